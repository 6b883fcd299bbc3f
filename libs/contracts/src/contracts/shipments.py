"""Shipment events: `shipment.created` by the WMS and `shipment.confirmed` by shipment-relay."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from contracts.carriers import AmazonCarrierCode
from contracts.fields import AmazonOrderId, ConnectionId, OrderItemId, PositiveQuantity, Sku, Text, Timestamp
from contracts.marketplaces import MarketplaceId
from contracts.payload import InboundPayload, OutboundPayload

__all__ = [
    "PackageConfirmationV1",
    "ShipmentConfirmedV1",
    "ShipmentCreatedV1",
    "ShipmentItemV1",
    "ShipmentPackageV1",
]

ShipmentId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
_Tracking = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ShipmentItemV1(InboundPayload):
    """One order line in a package, named by Amazon's order_item_id or by the seller SKU."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [{"required": ["order_item_id"]}, {"required": ["sku"]}]})

    order_item_id: OrderItemId | None = None
    sku: Sku | None = Field(default=None, validate_default=True)
    quantity: PositiveQuantity

    @field_validator("sku")
    @classmethod
    def _identified(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("order_item_id") is None:
            raise ValueError("give order_item_id or sku")
        return value


class ShipmentPackageV1(InboundPayload):
    carrier: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="Internal carrier name; shipment-relay maps it to Amazon's carrier code."
    )
    service: Text | None = Field(default=None, description="Carrier service / ship method, e.g. 'UPS Ground'.")
    tracking_number: _Tracking
    ship_date: Timestamp
    items: list[ShipmentItemV1] = Field(min_length=1)


class ShipmentCreatedV1(InboundPayload):
    """Packages left the warehouse for an Amazon order (partial shipments are separate shipments)."""

    shipment_id: ShipmentId = Field(description="The WMS's id; unique per shipment.")
    connection_id: ConnectionId = Field(description="As received on order.received.")
    marketplace_id: MarketplaceId = Field(description="As received on order.received.")
    amazon_order_id: AmazonOrderId
    packages: list[ShipmentPackageV1] = Field(min_length=1)


class PackageConfirmationV1(OutboundPayload):
    package_reference_id: Annotated[str, StringConstraints(pattern=r"^[1-9]\d{0,9}$")]
    carrier_code: AmazonCarrierCode
    carrier_name: Text | None = None
    tracking_number: _Tracking
    ship_date: Timestamp
    outcome: Literal["accepted", "rejected"]
    error_code: Text | None = Field(default=None, description="Amazon's error code when rejected.")
    error_message: Text | None = None
    reason: Text | None = Field(
        default=None,
        description="Why it was rejected before Amazon was called (item not in the order, excess quantity, "
        "ship date in the future, carrier not on Amazon's list); absent when Amazon refused it.",
    )
    verification: Literal["applied"] | None = Field(
        default=None,
        description="applied: the order on Amazon shows the accepted package (read back after Amazon's apply "
        "delay); absent while it does not yet.",
    )


class ShipmentConfirmedV1(OutboundPayload):
    """Amazon's answer to the confirmation of each package of a shipment."""

    shipment_id: ShipmentId
    connection_id: ConnectionId
    marketplace_id: MarketplaceId
    amazon_order_id: AmazonOrderId
    packages: list[PackageConfirmationV1] = Field(min_length=1)
    confirmed_at: Timestamp
