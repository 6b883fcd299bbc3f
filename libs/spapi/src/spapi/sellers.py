"""Sellers v1: `getMarketplaceParticipations` (also the cheapest "does this connection work?" call)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .models import SpApiModel
from .operations import GET_MARKETPLACE_PARTICIPATIONS
from .rate_limit import Priority

if TYPE_CHECKING:
    from .client import SpApiClient


class MarketplaceInfo(SpApiModel):
    id: str
    name: str
    country_code: str
    default_currency_code: str
    default_language_code: str
    domain_name: str


class Participation(SpApiModel):
    is_participating: bool
    has_suspended_listings: bool


class MarketplaceParticipation(SpApiModel):
    marketplace: MarketplaceInfo
    participation: Participation
    store_name: str


class GetMarketplaceParticipationsResponse(SpApiModel):
    payload: list[MarketplaceParticipation] = []


class SellersApi:
    def __init__(self, client: SpApiClient) -> None:
        self._client = client

    async def get_marketplace_participations(
        self, *, priority: Priority | None = None, max_wait: float | None = None
    ) -> list[MarketplaceParticipation]:
        response = await self._client.call(GET_MARKETPLACE_PARTICIPATIONS, priority=priority, max_wait=max_wait)
        return GetMarketplaceParticipationsResponse.model_validate_json(response.content).payload
