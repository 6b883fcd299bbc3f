"""Order events: from Amazon (`order.received`, `order.cancelled`), from the internal OMS (`order.completed`)
and from pii-redactor (`order.redacted`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StrictBool, StringConstraints, ValidationInfo, field_validator

from contracts.fields import (
    AmazonOrderId,
    Asin,
    ConnectionId,
    OrderItemId,
    Quantity,
    SellingPartnerId,
    Sku,
    Text,
    Timestamp,
)
from contracts.marketplaces import MarketplaceId
from contracts.money import Money
from contracts.payload import InboundPayload, OutboundPayload
from contracts.pii import Pii

__all__ = [
    "CancelReason",
    "FulfillmentChannel",
    "OrderCancelledV1",
    "OrderCompletedV1",
    "OrderLineV1",
    "OrderReceivedV1",
    "OrderRedactedV1",
    "OrderStatus",
    "ShipServiceLevelCategory",
    "ShippingAddressV1",
]


class OrderStatus(StrEnum):
    """Amazon's order status (Orders API v0 spelling, which ORDER_CHANGE notifications also use)."""

    PENDING_AVAILABILITY = "PendingAvailability"
    PENDING = "Pending"
    UNSHIPPED = "Unshipped"
    PARTIALLY_SHIPPED = "PartiallyShipped"
    SHIPPED = "Shipped"
    INVOICE_UNCONFIRMED = "InvoiceUnconfirmed"
    CANCELED = "Canceled"
    UNFULFILLABLE = "Unfulfillable"


class FulfillmentChannel(StrEnum):
    MFN = "MFN"  # fulfilled by the seller
    AFN = "AFN"  # fulfilled by Amazon (FBA)


class ShipServiceLevelCategory(StrEnum):
    EXPEDITED = "Expedited"
    FREE_ECONOMY = "FreeEconomy"
    NEXT_DAY = "NextDay"
    PRIORITY = "Priority"
    SAME_DAY = "SameDay"
    SECOND_DAY = "SecondDay"
    SCHEDULED = "Scheduled"
    STANDARD = "Standard"


class CancelReason(StrEnum):
    """Seller cancellation reasons of Amazon's order acknowledgement feed (OrderAcknowledgement.xsd)."""

    NO_INVENTORY = "NoInventory"
    SHIPPING_ADDRESS_UNDELIVERABLE = "ShippingAddressUndeliverable"
    CUSTOMER_EXCHANGE = "CustomerExchange"
    BUYER_CANCELED = "BuyerCanceled"
    GENERAL_ADJUSTMENT = "GeneralAdjustment"
    CARRIER_CREDIT_DECISION = "CarrierCreditDecision"
    RISK_ASSESSMENT_INFORMATION_NOT_VALID = "RiskAssessmentInformationNotValid"
    CARRIER_COVERAGE_FAILURE = "CarrierCoverageFailure"
    CUSTOMER_RETURN = "CustomerReturn"
    MERCHANDISE_NOT_RECEIVED = "MerchandiseNotReceived"


_Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
_Phone = Annotated[str, StringConstraints(min_length=3, max_length=40)]
_Line = Annotated[str, StringConstraints(min_length=1, max_length=200)]
_Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class ShippingAddressV1(OutboundPayload):
    """Ship-to address. Name, address lines, postal code and phone are PII (Amazon's restricted data)."""

    recipient_name: Annotated[_Line, Pii()]
    address_line1: Annotated[_Line, Pii()]
    address_line2: Annotated[_Line | None, Pii()] = None
    address_line3: Annotated[_Line | None, Pii()] = None
    city: _Line | None = None
    state_or_region: _Line | None = None
    postal_code: Annotated[_Line | None, Pii()] = None
    country_code: _Country = Field(description="ISO 3166-1 alpha-2.")
    phone: Annotated[_Phone | None, Pii()] = Field(
        default=None, description="Amazon suppresses it for FBA orders and after the latest delivery date."
    )


class OrderLineV1(OutboundPayload):
    order_item_id: OrderItemId
    seller_sku: Sku
    asin: Asin
    product_code: Sku = Field(
        description="The code internal systems know the item by: the seller SKU or the ASIN, per connection."
    )
    title: Text | None = None
    quantity_ordered: Quantity
    quantity_shipped: Quantity
    item_price: Money = Field(description="Price of all units of the line.")
    item_tax: Money
    shipping_price: Money
    shipping_tax: Money
    promotion_discount: Money = Field(description="Positive amount to subtract.")

    @field_validator("quantity_shipped")
    @classmethod
    def _not_more_than_ordered(cls, value: int, info: ValidationInfo) -> int:
        ordered = info.data.get("quantity_ordered")
        if ordered is not None and value > ordered:
            raise ValueError(f"{value} shipped is more than the {ordered} ordered")
        return value

    @field_validator("item_tax", "shipping_price", "shipping_tax", "promotion_discount")
    @classmethod
    def _same_currency(cls, value: Money, info: ValidationInfo) -> Money:
        price = info.data.get("item_price")
        if price is not None and value.currency != price.currency:
            raise ValueError(f"currency {value.currency} differs from item_price currency {price.currency}")
        return value


class OrderReceivedV1(OutboundPayload):
    """A new Amazon order, or a new revision of one (a later `last_update_date`), ready to fulfil."""

    connection_id: ConnectionId
    selling_partner_id: SellingPartnerId
    marketplace_id: MarketplaceId
    amazon_order_id: AmazonOrderId
    last_update_date: Timestamp = Field(description="Amazon's LastUpdateDate: the revision of this order.")
    status: OrderStatus
    purchase_date: Timestamp
    fulfillment_channel: FulfillmentChannel
    ship_service_level: Text | None = Field(default=None, description="Amazon's free text, e.g. 'Std US D2D Dom'.")
    ship_service_level_category: ShipServiceLevelCategory | None = None
    internal_ship_method: Text | None = Field(
        default=None, description="The category mapped by the connection's ship-method mapping, if any."
    )
    is_prime: StrictBool
    is_business_order: StrictBool
    earliest_ship_date: Timestamp | None = None
    latest_ship_date: Timestamp | None = None
    buyer_ref: Annotated[str, StringConstraints(pattern=r"^buyer-[0-9a-f]{16,64}$")] = Field(
        description="Stable pseudonym of the buyer, so customers can be matched without PII."
    )
    buyer_name: Annotated[_Line | None, Pii()] = None
    buyer_email: Annotated[_Email | None, Pii()] = Field(default=None, description="Amazon's anonymised relay address.")
    buyer_phone: Annotated[_Phone | None, Pii()] = None
    ship_to: ShippingAddressV1 | None = Field(
        default=None, description="Absent for FBA orders and for orders Amazon has not released yet."
    )
    lines: list[OrderLineV1] = Field(min_length=1)
    # Added within V1 (an optional field, the one change rule 2 allows). PII fields were already optional, so a
    # PII-minimal order.received (no buyer fields, no ship_to) is valid V1 as it stands.
    pii_reference: Annotated[str, StringConstraints(pattern=r"^urn:amazon-connector:pii:[^:\s]+:[^:\s]+$")] | None = (
        Field(
            default=None,
            description=(
                "Set when the connection uses PII-minimal delivery: buyer and ship-to fields are absent and the "
                "label address is fetched from pii-redactor (GET /internal/labels/{connection_id}/{amazon_order_id})."
                " Form: urn:amazon-connector:pii:<connection_id>:<amazon_order_id>."
            ),
        )
    )
    payment_status: Literal["paid"] = Field(
        default="paid",
        description="Amazon releases orders for fulfilment only after payment, so imported orders are paid.",
    )

    @field_validator("latest_ship_date")
    @classmethod
    def _ship_window(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        earliest = info.data.get("earliest_ship_date")
        if value is not None and earliest is not None and value < earliest:
            raise ValueError("is before earliest_ship_date")
        return value

    @field_validator("lines")
    @classmethod
    def _consistent_lines(cls, value: list[OrderLineV1]) -> list[OrderLineV1]:
        ids = [line.order_item_id for line in value]
        if len(set(ids)) != len(ids):
            raise ValueError("order_item_id must be unique across lines")
        currencies = {line.item_price.currency for line in value}
        if len(currencies) > 1:
            raise ValueError(f"all lines must use one currency, got {', '.join(sorted(currencies))}")
        return value


class OrderCancelledV1(OutboundPayload):
    """Amazon or the buyer cancelled the order; internal systems must not ship it."""

    connection_id: ConnectionId
    marketplace_id: MarketplaceId
    amazon_order_id: AmazonOrderId
    last_update_date: Timestamp = Field(description="Amazon's LastUpdateDate at cancellation.")
    cancelled_by: Literal["buyer", "amazon"]
    buyer_cancel_reason: Text | None = Field(
        default=None, description="Amazon's BuyerCancelReason text when the buyer asked."
    )


class OrderCompletedV1(InboundPayload):
    """The OMS closed the order: shipped in full (`completed`) or cancelled by the seller (`cancelled`)."""

    # The cross-field rule again in JSON Schema, so publishers' validators enforce what we enforce.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"status": {"const": "cancelled"}}, "required": ["status"]},
            "then": {"required": ["cancel_reason"], "properties": {"cancel_reason": {"not": {"type": "null"}}}},
            "else": {"properties": {"cancel_reason": {"type": "null"}}},
        }
    )

    connection_id: ConnectionId = Field(description="As received on order.received.")
    marketplace_id: MarketplaceId = Field(description="As received on order.received.")
    amazon_order_id: AmazonOrderId
    status: Literal["completed", "cancelled"]
    cancel_reason: CancelReason | None = Field(
        default=None, validate_default=True, description="Required when status is 'cancelled', else absent."
    )
    occurred_at: Timestamp = Field(description="When the order was completed or cancelled.")

    @field_validator("cancel_reason")
    @classmethod
    def _reason_iff_cancelled(cls, value: CancelReason | None, info: ValidationInfo) -> CancelReason | None:
        status = info.data.get("status")
        if status == "cancelled" and value is None:
            raise ValueError("required when status is 'cancelled'")
        if status == "completed" and value is not None:
            raise ValueError("only allowed when status is 'cancelled'")
        return value


class OrderRedactedV1(OutboundPayload):
    """The PII of this order must now be gone everywhere: consumers delete or overwrite their copies."""

    connection_id: ConnectionId
    amazon_order_id: AmazonOrderId
    reason: Literal["retention_elapsed", "deletion_request"]
    redacted_at: Timestamp
    replacement: Literal["REDACTED"] = Field(
        default="REDACTED", description="The value that replaces each PII field in stored copies."
    )
