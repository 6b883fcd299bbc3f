"""Stock events: `stock.changed` from the WMS (absolute quantities) and `stock.published` by stock-publisher."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from contracts.fields import ConnectionId, Quantity, Sku, Text, Timestamp, WarehouseId
from contracts.marketplaces import MarketplaceId
from contracts.payload import InboundPayload, OutboundPayload

__all__ = ["ListingIssueV1", "StockChangedV1", "StockPublishedV1"]


class StockChangedV1(InboundPayload):
    """Absolute available quantity of one SKU in one warehouse.

    Absolute, never a delta, so a replayed or duplicated event cannot corrupt stock; an event whose `as_of`
    is older than the last one seen for the same SKU and warehouse is ignored.
    """

    sku: Sku
    warehouse_id: WarehouseId
    available: Quantity = Field(description="Units available to sell now, 0 or more.")
    as_of: Timestamp = Field(description="When the WMS counted this quantity.")


class ListingIssueV1(OutboundPayload):
    code: Text
    severity: Literal["ERROR", "WARNING", "INFO"]
    message: Text
    attribute_name: Text | None = None


class StockPublishedV1(OutboundPayload):
    """What Amazon did with a quantity we sent for one SKU of one connection: accepted or rejected, then applied
    or drifted once read back."""

    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"outcome": {"const": "rejected"}}, "required": ["outcome"]},
            "then": {"properties": {"issues": {"minItems": 1}}, "required": ["issues"]},
        }
    )

    connection_id: ConnectionId
    sku: Sku
    marketplace_ids: list[MarketplaceId] = Field(min_length=1)
    quantity: Quantity = Field(description="Quantity sent: sum over the connection's stock warehouses, floored at 0.")
    handling_time_days: int = Field(ge=1, le=30)
    as_of: Timestamp = Field(description="Newest stock.changed `as_of` included in this quantity.")
    channel: Literal["listings_feed", "listings_api"] = Field(
        description="JSON_LISTINGS_FEED (bulk) or patchListingsItem (single SKU)."
    )
    submission_id: Text = Field(description="Amazon feed id, or the listings submissionId.")
    outcome: Literal["accepted", "rejected"]
    issues: list[ListingIssueV1] = Field(default_factory=list, validate_default=True)
    # Accepted is not applied: a second event for an accepted quantity says what Amazon showed when read back
    # after its apply delay (drifted: not the accepted quantity, which is then sent again). Added within V1.
    verification: Literal["applied", "drifted"] | None = Field(
        default=None, description="None: Amazon's answer to the submission; else the read-back of an accepted one."
    )
    amazon_quantity: Quantity | None = Field(default=None, description="On a read-back: the quantity Amazon showed.")
    published_at: Timestamp

    @field_validator("issues")
    @classmethod
    def _rejection_has_reason(cls, value: list[ListingIssueV1], info: ValidationInfo) -> list[ListingIssueV1]:
        if info.data.get("outcome") == "rejected" and not value:
            raise ValueError("a rejected quantity carries at least one of Amazon's issues")
        return value
