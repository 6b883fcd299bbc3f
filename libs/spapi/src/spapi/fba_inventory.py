"""FBA Inventory v1 `getInventorySummaries`: Amazon's quantities of a seller's FBA SKUs in one marketplace.

The operation is defined here rather than in `operations` so the FBA side stays in one module; its usage plan
(2 per second, burst 2) is not in `DEFAULT_RATE_LIMITS`, so a shared `RateLimiter` gives it the fallback bucket
(1 per second), which stays under Amazon's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import Field

from .models import SpApiModel, iso8601
from .operations import Operation
from .rate_limit import Priority

if TYPE_CHECKING:
    from .client import SpApiClient

GET_INVENTORY_SUMMARIES = Operation(
    "fbaInventory", "getInventorySummaries", "GET", "/fba/inventory/v1/summaries", True, Priority.LOW
)
MAX_SKUS_PER_CALL = 50  # sellerSkus maxItems


class ReservedQuantity(SpApiModel):
    total_reserved_quantity: int | None = None


class ResearchingQuantity(SpApiModel):
    total_researching_quantity: int | None = None


class UnfulfillableQuantity(SpApiModel):
    total_unfulfillable_quantity: int | None = None


class InventoryDetails(SpApiModel):
    fulfillable_quantity: int | None = None
    inbound_working_quantity: int | None = None
    inbound_shipped_quantity: int | None = None
    inbound_receiving_quantity: int | None = None
    reserved_quantity: ReservedQuantity | None = None
    researching_quantity: ResearchingQuantity | None = None
    unfulfillable_quantity: UnfulfillableQuantity | None = None


class InventorySummary(SpApiModel):
    asin: str | None = None
    fn_sku: str | None = None
    seller_sku: str | None = None
    condition: str | None = None
    inventory_details: InventoryDetails | None = None
    last_updated_time: datetime | None = None
    product_name: str | None = None
    total_quantity: int | None = None


class Granularity(SpApiModel):
    granularity_type: str | None = None
    granularity_id: str | None = None


class InventorySummariesResult(SpApiModel):
    granularity: Granularity
    inventory_summaries: list[InventorySummary] = Field(default_factory=list)


class InventoryPagination(SpApiModel):
    next_token: str | None = None


class GetInventorySummariesResponse(SpApiModel):
    payload: InventorySummariesResult | None = None
    pagination: InventoryPagination | None = None


class FbaInventoryApi:
    def __init__(self, client: SpApiClient) -> None:
        self._client = client

    async def get_inventory_summaries_page(
        self,
        marketplace_id: str,
        *,
        seller_skus: Sequence[str] = (),
        start_date_time: datetime | None = None,
        next_token: str | None = None,
        details: bool = True,
        priority: Priority | None = None,
    ) -> GetInventorySummariesResponse:
        if len(seller_skus) > MAX_SKUS_PER_CALL:
            raise ValueError(f"at most {MAX_SKUS_PER_CALL} sellerSkus per call")
        params = {
            "details": details,
            "granularityType": "Marketplace",
            "granularityId": marketplace_id,
            "marketplaceIds": [marketplace_id],
            "sellerSkus": list(seller_skus) or None,
            "startDateTime": iso8601(start_date_time) if start_date_time else None,
            "nextToken": next_token,
        }
        response = await self._client.call(GET_INVENTORY_SUMMARIES, params=params, priority=priority)
        return GetInventorySummariesResponse.model_validate_json(response.content)

    async def inventory_summaries(
        self,
        marketplace_id: str,
        *,
        seller_skus: Sequence[str] = (),
        start_date_time: datetime | None = None,
        priority: Priority | None = None,
    ) -> AsyncIterator[InventorySummary]:
        """Every summary, following `pagination.nextToken` (with `startDateTime` again, as Amazon asks)."""
        token: str | None = None
        while True:
            page = await self.get_inventory_summaries_page(
                marketplace_id,
                seller_skus=seller_skus,
                start_date_time=start_date_time,
                next_token=token,
                priority=priority,
            )
            for summary in page.payload.inventory_summaries if page.payload else []:
                yield summary
            token = page.pagination.next_token if page.pagination else None
            if not token:
                return
