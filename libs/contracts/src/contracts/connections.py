"""`connection.updated`: the current state and settings of one seller connection. Never carries secrets.

Published by connector-auth on every change to a compacted topic; the other services build their view of
connections from it. Deleting a connection publishes a tombstone (see `contracts.tombstone`).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StringConstraints, ValidationInfo, field_validator

from contracts.carriers import AmazonCarrierCode
from contracts.fields import ConnectionId, SellingPartnerId, Text, Timestamp, WarehouseId
from contracts.marketplaces import MarketplaceId, Region, marketplace
from contracts.orders import ShipServiceLevelCategory
from contracts.payload import OutboundPayload

__all__ = [
    "AmazonCarrier",
    "ConnectionSettingsV1",
    "ConnectionStatus",
    "ConnectionUpdatedV1",
    "ConnectionWarning",
    "DailyStockCadence",
    "IntervalStockCadence",
    "NearRealTimeStockCadence",
    "OrderImport",
    "ProductCode",
    "StockCadence",
]


class ConnectionStatus(StrEnum):
    PENDING = "pending"  # created, the seller has not given consent yet
    ACTIVE = "active"
    DISABLED = "disabled"  # every sync paused, data kept
    DISCONNECTED = "disconnected"  # tokens deleted; nothing may call Amazon for it


class OrderImport(StrEnum):
    UNSHIPPED_ONLY = "unshipped_only"
    INCLUDE_FULFILLED = "include_fulfilled"  # also already fulfilled and FBA orders, flagged as such


class ProductCode(StrEnum):
    SELLER_SKU = "seller_sku"
    ASIN = "asin"


class DailyStockCadence(OutboundPayload):
    mode: Literal["daily"]
    local_time: Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = Field(
        default="00:00", description="HH:MM in `timezone`."
    )
    timezone: Annotated[str, StringConstraints(pattern=r"^(UTC|[A-Za-z_]+(/[A-Za-z0-9_+\-]+)+)$")] = Field(
        default="UTC", description="IANA timezone name, e.g. Europe/Berlin."
    )


class IntervalStockCadence(OutboundPayload):
    mode: Literal["interval"]
    every_minutes: int = Field(ge=10, le=1440, description="Push every N minutes; 10 is Amazon-friendly.")


class NearRealTimeStockCadence(OutboundPayload):
    mode: Literal["near_real_time"]


StockCadence = Annotated[
    DailyStockCadence | IntervalStockCadence | NearRealTimeStockCadence, Field(discriminator="mode")
]


class AmazonCarrier(OutboundPayload):
    code: AmazonCarrierCode
    name: Text | None = Field(
        default=None, validate_default=True, description="Carrier name; required when code is 'Other'."
    )

    @field_validator("name")
    @classmethod
    def _name_for_other(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("code") in ("Other", "Otro") and value is None:
            raise ValueError("required when code is 'Other'")
        return value


class ConnectionSettingsV1(OutboundPayload):
    stock_warehouse_ids: list[WarehouseId] = Field(
        description="Warehouses whose available quantities are summed into the Amazon quantity.",
        json_schema_extra={"uniqueItems": True},
    )
    handling_time_days: int = Field(ge=1, le=30, description="Default handling time sent with stock.")
    stock_cadence: StockCadence
    order_import: OrderImport
    product_code: ProductCode
    ship_method_mapping: dict[ShipServiceLevelCategory, Text] = Field(
        default_factory=dict, description="Amazon ship service level category -> internal ship method."
    )
    carrier_mapping: dict[Annotated[str, StringConstraints(min_length=1, max_length=100)], AmazonCarrier] = Field(
        default_factory=dict, description="Internal carrier name -> Amazon carrier."
    )
    # 15 min is the default (Zenventory/Allocadence), 4 h the slowest the reference products allow.
    order_poll_interval_minutes: int = Field(default=15, ge=15, le=240)
    fba_handling: StrictBool = Field(
        description="Import FBA orders flagged as fulfilled by Amazon; FBA SKUs never get stock pushed."
    )
    # Stock rules, applied in this order to the sum over stock_warehouse_ids (floored at 0).
    stock_sync_enabled: StrictBool = Field(
        default=True, description="Off: nothing is sent to Amazon and nothing is lost; on again: what differs is sent."
    )
    stock_buffer: int = Field(default=0, ge=0, description="Units held back from Amazon.")
    stock_cap: int | None = Field(default=None, ge=0, description="Never tell Amazon more than this.")
    stock_zero_below: int = Field(
        default=0, ge=0, description="A quantity under this is sent as 0 (avoids overselling the last units)."
    )
    # Zenventory and Allocadence pull new items at most every 4 hours; 30 minutes is the quickest we allow.
    catalog_poll_interval_minutes: int = Field(default=240, ge=30, le=240)
    fba_inventory_interval_minutes: int = Field(default=60, ge=15, le=1440)
    fba_warehouse_id: WarehouseId | None = Field(
        default=None, description="The internal warehouse that mirrors Amazon's FBA stock, compared with Amazon's."
    )
    # Amazon's Data Protection Policy: 30 days at most; a seller may shorten it, never lengthen it.
    pii_retention_days: int = Field(default=30, ge=1, le=30)
    pii_minimal_delivery: StrictBool = Field(
        default=False,
        description="order.received carries no ship-to PII; warehouses fetch the label address from pii-redactor.",
    )

    @field_validator("stock_warehouse_ids")
    @classmethod
    def _unique_warehouses(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("warehouse ids must be unique (it is a set)")
        return value


class ConnectionWarning(OutboundPayload):
    code: Literal["reauthorization_due", "client_secret_rotation_due"]
    deadline: Timestamp


class ConnectionUpdatedV1(OutboundPayload):
    """Current state of a seller connection. `revision` increases with every published change."""

    connection_id: ConnectionId
    revision: int = Field(ge=1, description="Increases with every change; consumers keep the highest.")
    name: Text = Field(description="Operator-chosen display name.")
    status: ConnectionStatus
    region: Region
    marketplace_ids: list[MarketplaceId] = Field(min_length=1, json_schema_extra={"uniqueItems": True})
    selling_partner_id: SellingPartnerId | None = Field(default=None, description="Known once consent is given.")
    authorized_at: Timestamp | None = None
    reauthorization_deadline: Timestamp | None = Field(
        default=None, description="365 days after consent; the seller must re-authorize before it."
    )
    warnings: list[ConnectionWarning] = Field(default_factory=list)
    settings: ConnectionSettingsV1
    updated_at: Timestamp

    @field_validator("marketplace_ids")
    @classmethod
    def _marketplaces_in_region(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("marketplace ids must be unique")
        region = info.data.get("region")
        foreign = [m for m in value if region and marketplace(m).region != region]
        if foreign:
            raise ValueError(f"{', '.join(foreign)} not in region {region}")
        return value

    @field_validator("name")
    @classmethod
    def _no_secret_lookalike(cls, value: str) -> str:
        # Operators paste things; a token in the display name would be published to a compacted topic forever.
        if re.search(r"Atz[ar]\|", value):
            raise ValueError("looks like an LWA token; names must not contain secrets")
        return value
