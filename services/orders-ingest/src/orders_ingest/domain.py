"""Pure rules: which Amazon orders a connection imports, and how an order becomes order.received or order.cancelled.

No I/O here. Errors raised for one order (`InvalidOrder`, `contracts.ContractError`) never quote order data,
so their text is safe for logs and the sync history.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

import spapi
from contracts import (
    ConnectionSettingsV1,
    FulfillmentChannel,
    Money,
    OrderCancelledV1,
    OrderImport,
    OrderLineV1,
    OrderReceivedV1,
    OrderStatus,
    ProductCode,
    ShippingAddressV1,
    ShipServiceLevelCategory,
)
from pydantic import ValidationError
from sellers import Connection

# Amazon's v2026-01-01 fulfillment status -> the v0 spelling our contracts (and ORDER_CHANGE) use.
STATUS_V0: dict[str, OrderStatus] = {
    "PENDING_AVAILABILITY": OrderStatus.PENDING_AVAILABILITY,
    "PENDING": OrderStatus.PENDING,
    "UNSHIPPED": OrderStatus.UNSHIPPED,
    "PARTIALLY_SHIPPED": OrderStatus.PARTIALLY_SHIPPED,
    "SHIPPED": OrderStatus.SHIPPED,
    "CANCELLED": OrderStatus.CANCELED,
    "UNFULFILLABLE": OrderStatus.UNFULFILLABLE,
}
SERVICE_LEVELS: dict[str, ShipServiceLevelCategory] = {
    "EXPEDITED": ShipServiceLevelCategory.EXPEDITED,
    "FREE_ECONOMY": ShipServiceLevelCategory.FREE_ECONOMY,
    "NEXT_DAY": ShipServiceLevelCategory.NEXT_DAY,
    "PRIORITY": ShipServiceLevelCategory.PRIORITY,
    "SAME_DAY": ShipServiceLevelCategory.SAME_DAY,
    "SECOND_DAY": ShipServiceLevelCategory.SECOND_DAY,
    "SCHEDULED": ShipServiceLevelCategory.SCHEDULED,
    "STANDARD": ShipServiceLevelCategory.STANDARD,
}
# Datasets every read asks for: items come always; these add buyer, ship-to, money, cancellation and shipping.
INCLUDED_DATA = [
    spapi.IncludedData.BUYER,
    spapi.IncludedData.RECIPIENT,
    spapi.IncludedData.PROCEEDS,
    spapi.IncludedData.CANCELLATION,
    spapi.IncludedData.FULFILLMENT,
    spapi.IncludedData.PACKAGES,
]
CANCELLATION_INTERVAL = timedelta(hours=1)


class InvalidOrder(ValueError):
    """One order we cannot turn into an event. The message names fields, never their values."""


class Decision(StrEnum):
    IMPORT = "import"
    CANCEL = "cancel"
    SKIP = "skip"


# --- what to import ----------------------------------------------------------------------------------


def imported_statuses(settings: ConnectionSettingsV1) -> set[str]:
    statuses = {"UNSHIPPED", "PARTIALLY_SHIPPED"}
    if settings.order_import == OrderImport.INCLUDE_FULFILLED:
        statuses.add("SHIPPED")
    return statuses


def imports_amazon_fulfilled(settings: ConnectionSettingsV1) -> bool:
    return settings.fba_handling or settings.order_import == OrderImport.INCLUDE_FULFILLED


def search_statuses(
    settings: ConnectionSettingsV1, *, cancellations_only: bool = False
) -> list[spapi.FulfillmentStatus]:
    """Statuses a poll asks for: the imported ones plus CANCELLED, so cancellations are seen on every poll."""
    wanted = {"CANCELLED"} if cancellations_only else imported_statuses(settings) | {"CANCELLED"}
    return [s for s in spapi.FulfillmentStatus if s.value in wanted]


def search_fulfilled_by(settings: ConnectionSettingsV1) -> list[str]:
    return ["MERCHANT", "AMAZON"] if imports_amazon_fulfilled(settings) else ["MERCHANT"]


def poll_interval(settings: ConnectionSettingsV1) -> timedelta:
    return timedelta(minutes=settings.order_poll_interval_minutes)


def needs_cancellation_checks(settings: ConnectionSettingsV1) -> bool:
    """Every poll includes CANCELLED; only polls rarer than hourly need a cancellation check in between."""
    return poll_interval(settings) > CANCELLATION_INTERVAL


def decide(order: spapi.Order, settings: ConnectionSettingsV1) -> tuple[Decision, str]:
    """What to do with one order as Amazon returned it, and why (for skipped ones)."""
    status = _status(order)
    if status == "CANCELLED":
        return Decision.CANCEL, ""
    if status not in imported_statuses(settings):
        return Decision.SKIP, f"status {status} is not imported by this connection"
    if _channel(order) == FulfillmentChannel.AFN and not imports_amazon_fulfilled(settings):
        return Decision.SKIP, "fulfilled by Amazon, which this connection does not import"
    return Decision.IMPORT, ""


def revision(order: spapi.Order) -> str:
    """Amazon's lastUpdatedTime in one canonical spelling: the revision in event ids and the dedupe key."""
    return revision_text(order.last_updated_time)


def revision_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise InvalidOrder("lastUpdatedTime has no timezone")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_revision(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- mapping -----------------------------------------------------------------------------------------


def buyer_ref(key: bytes, selling_partner_id: str, order: spapi.Order) -> str:
    """A stable pseudonym per (seller, buyer): HMAC of Amazon's buyer email (its anonymised relay address).

    Without an email (FBA, no BUYER data) the buyer is unknown and the pseudonym is per order.
    """
    buyer = order.buyer
    address = order.recipient.delivery_address if order.recipient else None
    if buyer is not None and buyer.buyer_email:
        identity = "email:" + buyer.buyer_email.strip().lower()
    elif buyer is not None and buyer.buyer_name and address is not None and address.postal_code:
        identity = f"name:{buyer.buyer_name.strip().lower()}|{address.postal_code.strip()}"
    else:
        identity = "order:" + order.order_id
    digest = hmac.new(key, f"{selling_partner_id}\x00{identity}".encode(), hashlib.sha256).hexdigest()
    return "buyer-" + digest[:32]


def order_received(order: spapi.Order, connection: Connection, buyer_ref_key: bytes) -> OrderReceivedV1:
    """Raises InvalidOrder or contracts.ContractError (via `contract_error`) for an order we cannot publish."""
    settings = connection.settings
    assert connection.selling_partner_id is not None
    fulfillment = order.fulfillment
    assert fulfillment is not None  # _status() checked it
    level = SERVICE_LEVELS.get(fulfillment.fulfillment_service_level or "")
    ship_by = fulfillment.ship_by_window
    programs = _programs(order)
    buyer = order.buyer
    # PII-minimal delivery: Kafka never holds buyer PII; pii-redactor hands the label address to the warehouse.
    minimal = settings.pii_minimal_delivery
    try:
        return OrderReceivedV1(
            connection_id=connection.connection_id,
            selling_partner_id=connection.selling_partner_id,
            marketplace_id=_marketplace(order),
            amazon_order_id=order.order_id,
            last_update_date=order.last_updated_time,
            status=STATUS_V0[_status(order)],
            purchase_date=order.created_time,
            fulfillment_channel=_channel(order),
            ship_service_level=level.value if level else None,
            ship_service_level_category=level,
            internal_ship_method=settings.ship_method_mapping.get(level) if level else None,
            is_prime="PRIME" in programs,
            is_business_order="AMAZON_BUSINESS" in programs,
            earliest_ship_date=ship_by.earliest_date_time if ship_by else None,
            latest_ship_date=ship_by.latest_date_time if ship_by else None,
            buyer_ref=buyer_ref(buyer_ref_key, connection.selling_partner_id, order),
            buyer_name=(buyer.buyer_name or None) if buyer and not minimal else None,
            buyer_email=(buyer.buyer_email or None) if buyer and not minimal else None,
            buyer_phone=None,
            ship_to=None if minimal else _ship_to(order),
            pii_reference=f"urn:amazon-connector:pii:{connection.connection_id}:{order.order_id}" if minimal else None,
            lines=[_line(item, n, settings.product_code) for n, item in enumerate(order.order_items)],
            # Amazon releases an order for fulfilment only once the buyer's payment is secured.
            payment_status="paid",
        )
    except ValidationError as exc:
        raise contract_error(exc) from None


def order_cancelled(order: spapi.Order, connection: Connection, at_revision: str | None = None) -> OrderCancelledV1:
    """`at_revision`: the revision of an earlier cancellation event, so a replay rebuilds that same event."""
    requests = [
        item.cancellation.cancellation_request
        for item in order.order_items
        if item.cancellation is not None and item.cancellation.cancellation_request is not None
    ]
    by_buyer = [r for r in requests if (r.requester or "").upper() == "BUYER"]
    reason = next(
        (r.cancel_reason.strip()[:500] for r in by_buyer if r.cancel_reason and r.cancel_reason.strip()), None
    )
    try:
        return OrderCancelledV1(
            connection_id=connection.connection_id,
            marketplace_id=_marketplace(order),
            amazon_order_id=order.order_id,
            last_update_date=parse_revision(at_revision) if at_revision else order.last_updated_time,
            cancelled_by="buyer" if by_buyer else "amazon",
            buyer_cancel_reason=reason,
        )
    except ValidationError as exc:
        raise contract_error(exc) from None


def bookkeeping_items(order: spapi.Order) -> list[dict[str, Any]]:
    """What we keep of an order's items: ids, codes and quantities. No titles, prices or buyer data."""
    return [
        {
            "order_item_id": item.order_item_id,
            "seller_sku": item.product.seller_sku,
            "asin": item.product.asin,
            "quantity_ordered": item.quantity_ordered,
            "quantity_shipped": _shipped(item),
        }
        for item in order.order_items
    ]


def status_of(order: spapi.Order) -> str:
    return STATUS_V0[_status(order)].value


def channel_of(order: spapi.Order) -> str:
    return _channel(order).value


def marketplace_of(order: spapi.Order) -> str:
    return _marketplace(order)


def contract_error(exc: ValidationError) -> InvalidOrder:
    """pydantic's messages without the input values (they may be PII)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False)[:10]:
        where = ".".join(str(p) for p in error["loc"]) or "order"
        parts.append(f"{where}: {error['msg']}")
    return InvalidOrder("; ".join(parts))


def _status(order: spapi.Order) -> str:
    if order.fulfillment is None or not order.fulfillment.fulfillment_status:
        raise InvalidOrder("fulfillment.fulfillmentStatus is missing")
    status = order.fulfillment.fulfillment_status
    if status not in STATUS_V0:
        raise InvalidOrder(f"fulfillment.fulfillmentStatus {status[:40]!r} is not a known status")
    return status


def _channel(order: spapi.Order) -> FulfillmentChannel:
    by = (order.fulfillment.fulfilled_by if order.fulfillment else None) or "MERCHANT"
    if by not in ("MERCHANT", "AMAZON"):
        raise InvalidOrder("fulfillment.fulfilledBy is neither MERCHANT nor AMAZON")
    return FulfillmentChannel.AFN if by == "AMAZON" else FulfillmentChannel.MFN


def _marketplace(order: spapi.Order) -> str:
    marketplace_id = order.sales_channel.marketplace_id
    if not marketplace_id:
        raise InvalidOrder("salesChannel.marketplaceId is missing")
    return marketplace_id


def _programs(order: spapi.Order) -> set[str]:
    programs = (order.model_extra or {}).get("programs") or []
    return {str(p).upper() for p in programs} if isinstance(programs, list) else set()


def _ship_to(order: spapi.Order) -> ShippingAddressV1 | None:
    address = order.recipient.delivery_address if order.recipient else None
    # Amazon withholds the street address until an order can ship; then there is nothing to ship to yet.
    if address is None or not address.name or not address.address_line1 or not address.country_code:
        return None
    return ShippingAddressV1(
        recipient_name=address.name,
        address_line1=address.address_line1,
        address_line2=address.address_line2 or None,
        address_line3=address.address_line3 or None,
        city=address.city or None,
        state_or_region=address.state_or_region or None,
        postal_code=address.postal_code or None,
        country_code=address.country_code,
        phone=address.phone or None,
    )


def _shipped(item: spapi.OrderItem) -> int:
    if item.fulfillment is not None and item.fulfillment.quantity_fulfilled is not None:
        return item.fulfillment.quantity_fulfilled
    return 0


def _line(item: spapi.OrderItem, index: int, product_code: ProductCode) -> OrderLineV1:
    product = item.product
    if not product.seller_sku or not product.asin:
        raise InvalidOrder(f"lines.{index}: sellerSku and asin are required")
    money = _LineMoney.of(item, index)
    return OrderLineV1(
        order_item_id=item.order_item_id,
        seller_sku=product.seller_sku,
        asin=product.asin,
        product_code=product.seller_sku if product_code == ProductCode.SELLER_SKU else product.asin,
        title=(product.title or "")[:500] or None,
        quantity_ordered=item.quantity_ordered,
        quantity_shipped=_shipped(item),
        item_price=money.item_price,
        item_tax=money.item_tax,
        shipping_price=money.shipping_price,
        shipping_tax=money.shipping_tax,
        promotion_discount=money.promotion_discount,
    )


@dataclass(frozen=True, slots=True)
class _LineMoney:
    item_price: Money
    item_tax: Money
    shipping_price: Money
    shipping_tax: Money
    promotion_discount: Money

    @classmethod
    def of(cls, item: spapi.OrderItem, index: int) -> _LineMoney:
        """Amounts from PROCEEDS breakdowns (ITEM, SHIPPING, TAX by subtype, DISCOUNT), else the unit price."""
        unit = _amazon_money((item.product.price or {}).get("unitPrice"), f"lines.{index}.unitPrice")
        proceeds = (item.model_extra or {}).get("proceeds") or {}
        breakdowns = {
            str(b.get("type", "")).upper(): b for b in proceeds.get("breakdowns") or [] if isinstance(b, dict)
        }
        currency = unit[1] if unit else None
        found: dict[str, tuple[Decimal, str]] = {}
        for kind in ("ITEM", "SHIPPING", "TAX", "DISCOUNT"):
            entry = breakdowns.get(kind)
            if entry is not None:
                value = _amazon_money(entry.get("subtotal"), f"lines.{index}.proceeds.{kind}")
                if value is not None:
                    found[kind] = value
                    currency = currency or value[1]
        if currency is None:
            raise InvalidOrder(f"lines.{index}: no price (product.price.unitPrice or PROCEEDS)")
        if "ITEM" in found:
            item_price = found["ITEM"][0]
        elif unit is not None:
            item_price = unit[0] * item.quantity_ordered
        else:
            raise InvalidOrder(f"lines.{index}: no item price")
        shipping_tax = Decimal(0)
        item_tax = found["TAX"][0] if "TAX" in found else Decimal(0)
        detailed = (breakdowns.get("TAX") or {}).get("detailedBreakdowns") or []
        if detailed:
            by_subtype: dict[str, Decimal] = {}
            for part in detailed:
                value = _amazon_money(part.get("value"), f"lines.{index}.proceeds.TAX.detailed")
                if value is not None:
                    key = str(part.get("subtype", "")).upper()
                    by_subtype[key] = by_subtype.get(key, Decimal(0)) + value[0]
            shipping_tax = by_subtype.pop("SHIPPING", Decimal(0))
            item_tax = sum(by_subtype.values(), Decimal(0))
        shipping = found["SHIPPING"][0] if "SHIPPING" in found else Decimal(0)
        # Amazon reports discounts as negative proceeds; the contract wants the positive amount to subtract.
        discount = abs(found["DISCOUNT"][0]) if "DISCOUNT" in found else Decimal(0)
        currencies = {c for _, c in found.values()} | {currency}
        if len(currencies) > 1:
            raise InvalidOrder(f"lines.{index}: amounts in more than one currency")

        def money(amount: Decimal, field: str) -> Money:
            try:
                return Money(amount=amount, currency=currency)
            except ValidationError as exc:
                raise InvalidOrder(f"lines.{index}.{field}: {contract_error(exc)}") from None

        return cls(
            item_price=money(item_price, "item_price"),
            item_tax=money(item_tax, "item_tax"),
            shipping_price=money(shipping, "shipping_price"),
            shipping_tax=money(shipping_tax, "shipping_tax"),
            promotion_discount=money(discount, "promotion_discount"),
        )


def _amazon_money(raw: Any, where: str) -> tuple[Decimal, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or "amount" not in raw or "currencyCode" not in raw:
        raise InvalidOrder(f"{where}: not an Amazon Money object")
    try:
        amount = Decimal(str(raw["amount"]))
    except InvalidOperation:
        raise InvalidOrder(f"{where}: amount is not a decimal") from None
    if not amount.is_finite():
        raise InvalidOrder(f"{where}: amount is not finite")
    return amount, str(raw["currencyCode"])
