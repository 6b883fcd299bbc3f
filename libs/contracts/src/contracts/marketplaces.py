"""Amazon's marketplaces and regions; a marketplace id outside this list is rejected by every contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, WithJsonSchema

__all__ = ["MARKETPLACES", "Marketplace", "MarketplaceId", "Region", "marketplace"]

Region = Literal["NA", "EU", "FE"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Marketplace:
    id: str
    country: str
    region: Region
    currency: str


# Source: design/spapi-brief.md §1 (developer-docs "marketplace-ids"). India is served by the EU endpoint.
MARKETPLACES: dict[str, Marketplace] = {
    m.id: m
    for m in (
        Marketplace(id="A2EUQ1WTGCTBG2", country="CA", region="NA", currency="CAD"),
        Marketplace(id="ATVPDKIKX0DER", country="US", region="NA", currency="USD"),
        Marketplace(id="A1AM78C64UM0Y8", country="MX", region="NA", currency="MXN"),
        Marketplace(id="A2Q3Y263D00KWC", country="BR", region="NA", currency="BRL"),
        Marketplace(id="A28R8C7NBKEWEA", country="IE", region="EU", currency="EUR"),
        Marketplace(id="A1RKKUPIHCS9HS", country="ES", region="EU", currency="EUR"),
        Marketplace(id="A1F83G8C2ARO7P", country="GB", region="EU", currency="GBP"),
        Marketplace(id="A13V1IB3VIYZZH", country="FR", region="EU", currency="EUR"),
        Marketplace(id="AMEN7PMS3EDWL", country="BE", region="EU", currency="EUR"),
        Marketplace(id="A1805IZSGTT6HS", country="NL", region="EU", currency="EUR"),
        Marketplace(id="A1PA6795UKMFR9", country="DE", region="EU", currency="EUR"),
        Marketplace(id="APJ6JRA9NG5V4", country="IT", region="EU", currency="EUR"),
        Marketplace(id="A2NODRKZP88ZB9", country="SE", region="EU", currency="SEK"),
        Marketplace(id="AE08WJ6YKNBMC", country="ZA", region="EU", currency="ZAR"),
        Marketplace(id="A1C3SOZRARQ6R3", country="PL", region="EU", currency="PLN"),
        Marketplace(id="ARBP9OOSHTCHU", country="EG", region="EU", currency="EGP"),
        Marketplace(id="A33AVAJ2PDY3EV", country="TR", region="EU", currency="TRY"),
        Marketplace(id="A17E79C6D8DWNP", country="SA", region="EU", currency="SAR"),
        Marketplace(id="A2VIGQ35RCS4UG", country="AE", region="EU", currency="AED"),
        Marketplace(id="A21TJRUUN4KGV", country="IN", region="EU", currency="INR"),
        Marketplace(id="A19VAU5U5O7RUS", country="SG", region="FE", currency="SGD"),
        Marketplace(id="A39IBJ37TRP1C6", country="AU", region="FE", currency="AUD"),
        Marketplace(id="A1VC38T7YXB528", country="JP", region="FE", currency="JPY"),
    )
}


def marketplace(marketplace_id: str) -> Marketplace:
    try:
        return MARKETPLACES[marketplace_id]
    except KeyError:
        raise ValueError(f"{marketplace_id!r} is not an Amazon marketplace id") from None


def _known(value: Any) -> Any:
    if isinstance(value, str):
        marketplace(value)
    return value


MarketplaceId = Annotated[
    str,
    BeforeValidator(_known),
    WithJsonSchema({"type": "string", "enum": sorted(MARKETPLACES), "description": "Amazon marketplace id."}),
]
