"""Shipment events: `shipment.created` by the WMS and `shipment.confirmed` by shipment-relay."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator, model_validator

from contracts.carriers import AmazonCarrierCode
from contracts.fields import AmazonOrderId, ConnectionId, OrderItemId, PositiveQuantity, Sku, Text, Timestamp
from contracts.marketplaces import MarketplaceId
from contracts.orders import CancelReason
from contracts.payload import InboundPayload, OutboundPayload

__all__ = [
    "CancellationErrorV1",
    "CancelledItemV1",
    "PackageConfirmationV1",
    "SellerCancellationV1",
    "ShipmentConfirmedV1",
    "ShipmentCreatedV1",
    "ShipmentItemV1",
    "ShipmentPackageV1",
    "UnconfirmedCompletionV1",
    "UnconfirmedItemV1",
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


class CancelledItemV1(OutboundPayload):
    order_item_id: OrderItemId
    quantity: PositiveQuantity = Field(description="Units of the item cancelled (what was left to ship).")


class CancellationErrorV1(OutboundPayload):
    """One error Amazon reported for the cancellation (a Result in error of the feed's processing report)."""

    code: Text | None = Field(default=None, description="Amazon's ResultMessageCode, when it gave one.")
    message: Text = Field(description="Amazon's ResultDescription, or how the feed ended (FATAL, CANCELLED).")


class SellerCancellationV1(OutboundPayload):
    """The outcome of a seller cancellation (order.completed `cancelled`) sent to Amazon as an order
    acknowledgement feed."""

    scope: Literal["order", "items"] = Field(
        description="order: nothing had shipped, the whole order was cancelled; items: only the items below "
        "(what was left of a partly shipped order)."
    )
    outcome: Literal["accepted", "rejected"] = Field(
        description="accepted: Amazon's processing report has no error for the order; rejected: see `errors` "
        "(Amazon's) or `reason` (ours, when no feed was sent)."
    )
    cancel_reason: CancelReason
    items: list[CancelledItemV1] | None = Field(default=None, description="Present when scope is 'items'.")
    feed_id: Text | None = Field(default=None, description="Amazon's POST_ORDER_ACKNOWLEDGEMENT_DATA feed id.")
    reason: Text | None = Field(
        default=None, description="Why it was rejected before Amazon was asked (e.g. every item already shipped)."
    )
    errors: list[CancellationErrorV1] = Field(default_factory=list, description="Amazon's errors when rejected.")


class UnconfirmedItemV1(OutboundPayload):
    order_item_id: OrderItemId
    quantity: PositiveQuantity = Field(description="Units ordered but never confirmed as shipped to Amazon.")


class UnconfirmedCompletionV1(OutboundPayload):
    """order.completed `completed` arrived for an order with items never confirmed to Amazon: Amazon still
    shows them unshipped, which costs the seller (late shipment rate) until a shipment.created is sent."""

    items: list[UnconfirmedItemV1] = Field(min_length=1)


class ShipmentConfirmedV1(OutboundPayload):
    """Amazon's answer to the confirmation of each package of a shipment, or to a seller cancellation.

    A seller cancellation (since 1.1) rides on this topic as the issue requires: `cancellation` is set,
    `packages` is empty and `shipment_id` is `cancellation:<amazon_order_id>` (never a WMS shipment id).
    Why not a V2 or a second CloudEvent type: the registry and the codec bind one payload type and `type` to a
    topic, so a second type would be dead-lettered by every consumer of today (ours included) just the same,
    and a V2 topic is a migration for every internal system. The one break of this minor version is that
    `packages` may be empty, and only when `cancellation` (or `unconfirmed`, below) is present (anyOf says so):
    - a consumer still validating with the 1.0 schema (minItems 1) rejects a cancellation event, loudly (its
      dead letters), and never misreads it as a shipment; shipment events are unchanged for it;
    - a consumer that accepts an empty list must not read "no package rejected" as shipped: look at
      `cancellation` first, or count accepted packages (pii-redactor starts its clock only on an accepted
      package, so a cancellation never counts as shipped there).

    The flag for an order completed with items never confirmed (`unconfirmed`, shipment_id
    `completion:<amazon_order_id>`) rides the same way: no packages, the block instead.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"properties": {"packages": {"minItems": 1}}},
                {"required": ["cancellation"], "properties": {"cancellation": {"type": "object"}}},
                {"required": ["unconfirmed"], "properties": {"unconfirmed": {"type": "object"}}},
            ]
        }
    )

    shipment_id: ShipmentId = Field(
        description="The WMS's shipment id, or cancellation:<amazon_order_id>, or completion:<amazon_order_id>."
    )
    connection_id: ConnectionId
    marketplace_id: MarketplaceId
    amazon_order_id: AmazonOrderId
    packages: list[PackageConfirmationV1] = Field(
        description="At least one, except on a seller cancellation (then empty)."
    )
    confirmed_at: Timestamp
    cancellation: SellerCancellationV1 | None = Field(
        default=None, description="Set on a seller cancellation's outcome (then packages is empty); else absent."
    )

    unconfirmed: UnconfirmedCompletionV1 | None = Field(
        default=None,
        description="Set when the order was completed with items never confirmed (then packages is empty); "
        "else absent.",
    )

    @model_validator(mode="after")
    def _packages_or_one_order_level_outcome(self) -> ShipmentConfirmedV1:
        blocks = (self.cancellation is not None) + (self.unconfirmed is not None)
        if not self.packages and blocks != 1:
            raise ValueError("packages may be empty only with exactly one of cancellation or unconfirmed")
        if self.packages and blocks:
            raise ValueError("a seller cancellation or an unconfirmed completion carries no packages")
        return self


def cancellation_shipment_id(amazon_order_id: str) -> str:
    """The `shipment_id` of a seller cancellation's shipment.confirmed."""
    return f"cancellation:{amazon_order_id}"


def completion_shipment_id(amazon_order_id: str) -> str:
    """The `shipment_id` of the shipment.confirmed flagging a completed order with items never confirmed."""
    return f"completion:{amazon_order_id}"
