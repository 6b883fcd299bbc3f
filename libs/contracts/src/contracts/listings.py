"""Catalog events by catalog-sync: `listing.updated` (one Amazon listing) and `fba.inventory` (Amazon's FBA stock).

Both topics are compacted and keyed by `listing_key` = "<connection_id>:<sku>", so the latest state of every
listing of every connection stays readable forever; a listing gone from Amazon is a tombstone on that key.
Connection ids never contain ':' in practice, so the key splits at its first ':' back into connection and SKU.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from contracts.fields import Asin, ConnectionId, Quantity, Sku, Text, Timestamp
from contracts.marketplaces import MarketplaceId
from contracts.money import Money
from contracts.payload import OutboundPayload

__all__ = [
    "FbaInventoryV1",
    "ListingFulfillmentChannel",
    "ListingStatus",
    "ListingUpdatedV1",
    "listing_key",
]

ListingKey = Annotated[
    str,
    StringConstraints(min_length=3, max_length=105),
    Field(description="'<connection_id>:<sku>', the Kafka key."),
]
ItemId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    Field(description="Internal item id; equals the SKU while the SKU is not linked to an item."),
]
_AttributeName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


def listing_key(connection_id: str, sku: str) -> str:
    return f"{connection_id}:{sku}"


class ListingFulfillmentChannel(StrEnum):
    MFN = "MFN"  # the seller ships; stock-publisher sends its quantity
    FBA = "FBA"  # Amazon ships from its own stock; nothing may send a quantity for it


class ListingStatus(StrEnum):
    BUYABLE = "BUYABLE"  # active and purchasable
    DISCOVERABLE = "DISCOVERABLE"  # visible but not purchasable (e.g. no quantity)
    INACTIVE = "INACTIVE"
    INCOMPLETE = "INCOMPLETE"  # Amazon is missing required data


def _key_matches(value: str, info: ValidationInfo) -> str:
    connection_id, sku = info.data.get("connection_id"), info.data.get("sku")
    if connection_id is not None and sku is not None and value != listing_key(connection_id, sku):
        raise ValueError("must be '<connection_id>:<sku>' of this listing")
    return value


class ListingUpdatedV1(OutboundPayload):
    """Current state of one Amazon listing (one SKU in one marketplace of one connection)."""

    connection_id: ConnectionId
    sku: Sku
    listing_key: ListingKey
    revision: int = Field(ge=1, description="Increases with every published change; consumers keep the highest.")
    marketplace_id: MarketplaceId
    asin: Asin | None = None
    title: Text | None = None
    status: ListingStatus
    condition: Text | None = Field(default=None, description="Amazon's condition, e.g. 'new_new'.")
    price: Money | None = None
    fulfillment_channel: ListingFulfillmentChannel
    mfn_quantity: Quantity | None = Field(
        default=None, description="Quantity Amazon shows for an MFN listing; None for FBA or unknown."
    )
    parent_sku: Sku | None = Field(default=None, description="SKU of the variation parent; None if not a child.")
    variation_theme: Text | None = Field(default=None, description="e.g. 'SizeColor'; on parents and children.")
    variation_attributes: dict[_AttributeName, Text] = Field(
        default_factory=dict, description="Attribute -> value for this child, e.g. {'size': 'L', 'color': 'Red'}."
    )
    item_id: ItemId
    amazon_last_updated: Timestamp | None = Field(default=None, description="When Amazon last changed the listing.")
    updated_at: Timestamp = Field(description="When catalog-sync published this revision.")

    _check_key = field_validator("listing_key")(_key_matches)


class FbaInventoryV1(OutboundPayload):
    """Amazon's FBA quantities of one SKU in one marketplace (getInventorySummaries)."""

    connection_id: ConnectionId
    sku: Sku
    listing_key: ListingKey
    marketplace_id: MarketplaceId
    fulfillable: Quantity
    inbound_working: Quantity
    inbound_shipped: Quantity
    inbound_receiving: Quantity
    reserved: Quantity
    unfulfillable: Quantity
    researching: Quantity
    total: Quantity
    as_of: Timestamp = Field(description="Amazon's lastUpdatedTime of the summary, or when it was read.")

    _check_key = field_validator("listing_key")(_key_matches)
