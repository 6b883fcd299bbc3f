"""Orders: their lifecycle, the v2026-01-01 read operations and v0 confirmShipment with Amazon's rules.

Lifecycle: Pending -> Unshipped -> PartiallyShipped -> Shipped; Pending/Unshipped -> Canceled (buyer).
Every change bumps LastUpdateDate and emits ORDER_CHANGE. A sale reserves MFN stock, a cancellation returns it.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from spapi_sandbox import deferred
from spapi_sandbox.errors import ApiError
from spapi_sandbox.state import (
    DIRECT_TO_CONSUMER_DELIVERY,
    MARKETPLACES,
    TAX_INVOICING,
    Order,
    OrderItem,
    Package,
    iso,
    parse_iso,
    utcnow,
)
from spapi_sandbox.world import Call, Reply, World

STATUS_V2026 = {
    "PendingAvailability": "PENDING_AVAILABILITY",
    "Pending": "PENDING",
    "Unshipped": "UNSHIPPED",
    "PartiallyShipped": "PARTIALLY_SHIPPED",
    "Shipped": "SHIPPED",
    "Canceled": "CANCELLED",
}
SERVICE_LEVELS = {
    "Standard": "STANDARD",
    "Expedited": "EXPEDITED",
    "SecondDay": "SECOND_DAY",
    "NextDay": "NEXT_DAY",
    "SameDay": "SAME_DAY",
    "Priority": "PRIORITY",
    "FreeEconomy": "FREE_ECONOMY",
    "Scheduled": "SCHEDULED",
}
# Transitions a test (or the buyer, or Amazon for AFN) may cause; MFN shipping goes through confirmShipment.
TRANSITIONS = {
    "PendingAvailability": {"Pending", "Canceled"},
    "Pending": {"Unshipped", "Canceled"},
    "Unshipped": {"Canceled", "Shipped"},
    "PartiallyShipped": {"Shipped"},
    "Shipped": set(),
    "Canceled": set(),
}
# amzn-base.xsd CarrierCode values as listed in design/spapi-brief.md §8.
CARRIER_CODES = frozenset(
    {
        "USPS",
        "UPS",
        "UPSMI",
        "FedEx",
        "DHL",
        "Fastway",
        "GLS",
        "GO!",
        "Hermes Logistik Gruppe",
        "Royal Mail",
        "Parcelforce",
        "City Link",
        "TNT",
        "Target",
        "SagawaExpress",
        "NipponExpress",
        "YamatoTransport",
        "DHL Global Mail",
        "UPS Mail Innovations",
        "FedEx SmartPost",
        "OSM",
        "OnTrac",
        "Streamlite",
        "Newgistics",
        "Canada Post",
        "Blue Package",
        "Chronopost",
        "Deutsche Post",
        "DPD",
        "La Poste",
        "Parcelnet",
        "Poste Italiane",
        "SDA",
        "Smartmail",
        "FEDEX_JP",
        "JP_EXPRESS",
        "NITTSU",
        "SAGAWA",
        "YAMATO",
        "BlueDart",
        "AFL/Fedex",
        "Aramex",
        "India Post",
        "Professional",
        "DTDC",
        "Overnite Express",
        "First Flight",
        "Delhivery",
        "Lasership",
        "Yodel",
        "Other",
        "Amazon Shipping",
        "Seur",
        "Correos",
        "MRW",
        "Endopack",
        "Chrono Express",
        "Nacex",
        "Otro",
        "Correios",
    }
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NewItem:
    sku: str
    quantity: int
    price: str | None = None
    order_item_id: str | None = None
    # None: the marketplace's usual charges (shipping unless Prime, sales tax or VAT); no discount.
    shipping: str | None = None
    tax_rate: str | None = None
    discount: str = "0.00"
    shipping_discount: str = "0.00"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class NewOrder:
    seller_id: str
    items: list[NewItem]
    marketplace_id: str | None = None
    status: str = "Unshipped"
    is_prime: bool = False
    is_business: bool = False
    fulfillment_channel: str | None = None
    ship_service_level: str = "Standard"
    buyer: dict[str, str] | None = None
    address: dict[str, str] | None = None
    order_id: str | None = None
    latest_delivery: datetime | None = None


# A plausible tax on item and shipping per country (US sales tax, else standard VAT/GST); a test may set its own.
TAX_RATES = {"US": "0.0825", "CA": "0.13", "MX": "0.16", "BR": "0.17", "GB": "0.20", "DE": "0.19", "FR": "0.20"}
DEFAULT_TAX_RATE = "0.20"
DEFAULT_SHIPPING = "4.99"
CENT = Decimal("0.01")


class OrderRejected(ValueError):
    """A test asked for an order Amazon could never have."""


# --- lifecycle ---------------------------------------------------------------------------------------


def create_order(world: World, spec: NewOrder) -> Order:
    state = world.state
    seller = state.sellers.get(spec.seller_id)
    if seller is None:
        raise OrderRejected(f"unknown seller {spec.seller_id}")
    marketplace_id = spec.marketplace_id or seller.marketplace_ids[0]
    if marketplace_id not in seller.marketplace_ids:
        raise OrderRejected(f"seller does not participate in {marketplace_id}")
    if spec.status not in ("Pending", "Unshipped", "PendingAvailability"):
        raise OrderRejected("a new order is Pending, PendingAvailability or Unshipped")
    if spec.ship_service_level not in SERVICE_LEVELS:
        raise OrderRejected(f"ship_service_level must be one of {sorted(SERVICE_LEVELS)}")
    if not spec.items or any(i.quantity < 1 for i in spec.items):
        raise OrderRejected("an order needs items with quantity >= 1")
    if spec.order_id is not None and spec.order_id in state.orders:
        raise OrderRejected("order id already exists")
    currency = MARKETPLACES[marketplace_id].currency if marketplace_id in MARKETPLACES else "USD"
    country = MARKETPLACES[marketplace_id].country_code if marketplace_id in MARKETPLACES else "US"
    items, channel = [], spec.fulfillment_channel
    for new in spec.items:
        listing = state.listing(spec.seller_id, new.sku)
        channel = channel or (listing.fulfillment if listing else "MFN")
        items.append(
            OrderItem(
                order_item_id=new.order_item_id or state.ids.order_item(),
                sku=new.sku,
                asin=listing.asin if listing else state.ids.asin(),
                title=(listing.item_name if listing and listing.item_name else f"Sandbox product {new.sku}"),
                quantity=new.quantity,
                unit_price=str(Decimal(new.price or "19.99").quantize(CENT)),
                currency=currency,
                shipping_price=_amount(new.shipping or ("0.00" if spec.is_prime else DEFAULT_SHIPPING)),
                tax_rate=new.tax_rate if new.tax_rate is not None else TAX_RATES.get(country, DEFAULT_TAX_RATE),
                discount=_amount(new.discount),
                shipping_discount=_amount(new.shipping_discount),
            )
        )
    if channel not in ("MFN", "AFN"):
        raise OrderRejected("fulfillment_channel must be MFN or AFN")
    now = utcnow()
    number = len(state.orders) + 1
    order = Order(
        order_id=spec.order_id or state.ids.order(),
        seller_id=spec.seller_id,
        marketplace_id=marketplace_id,
        status=spec.status,  # type: ignore[arg-type]
        fulfillment_channel=channel,  # type: ignore[arg-type]
        is_prime=spec.is_prime,
        is_business=spec.is_business,
        ship_service_level=spec.ship_service_level,
        items=items,
        buyer=spec.buyer
        or {"buyerName": f"Sandbox Buyer {number}", "buyerEmail": f"buyer{number}@marketplace.sandbox.invalid"},
        address=spec.address
        or {
            "name": f"Sandbox Buyer {number}",
            "addressLine1": f"{number} Example Street",
            "city": "Seattle",
            "stateOrRegion": "WA",
            "postalCode": "98109",
            "countryCode": MARKETPLACES.get(marketplace_id, MARKETPLACES["ATVPDKIKX0DER"]).country_code,
            "phone": "+1 206-555-0100",
        },
        created=now,
        last_updated=now,
        earliest_ship=now,
        latest_ship=now + timedelta(days=1 if spec.is_prime else 2),
        earliest_delivery=now + timedelta(days=2),
        latest_delivery=spec.latest_delivery or now + timedelta(days=3 if spec.is_prime else 6),
    )
    state.orders[order.order_id] = order
    _reserve(world, order, +1)
    _announce(world, order, "OrderStatusChange", "Order placed")
    return order


def _amount(text: str) -> str:
    try:
        amount = Decimal(text).quantize(CENT)
    except ArithmeticError:
        raise OrderRejected("amounts are decimal numbers") from None
    if amount < 0:
        raise OrderRejected("amounts are not negative")
    return str(amount)


def transition(world: World, order: Order, status: str) -> Order:
    if status not in TRANSITIONS.get(order.status, set()):
        raise OrderRejected(f"cannot move an order from {order.status} to {status}")
    if status == "Shipped" and order.fulfillment_channel == "MFN":
        raise OrderRejected("merchant-fulfilled orders are shipped with confirmShipment")
    if status == "Canceled":
        _reserve(world, order, -1)
    if status == "Shipped":
        for item in order.items:
            item.quantity_shipped = item.quantity
    order.status = status  # type: ignore[assignment]
    _touch(order)
    _announce(world, order, "OrderStatusChange", f"Order {status}")
    return order


def settle_after_item_cancellation(world: World, order: Order) -> None:
    """Some items were cancelled by the seller: the order is Shipped (or Canceled) once nothing is left to ship."""
    if all(i.quantity_left == 0 for i in order.items):
        order.status = "Shipped" if any(i.quantity_shipped for i in order.items) else "Canceled"
    _touch(order)
    _announce(world, order, "OrderStatusChange", "Seller cancelled items")


def request_cancellation(world: World, order: Order, reason: str) -> Order:
    """The buyer asks to cancel: the order keeps its status until the seller acts, as on Amazon."""
    if order.status not in ("Pending", "Unshipped", "PartiallyShipped"):
        raise OrderRejected(f"a {order.status} order cannot be cancelled by the buyer")
    for item in order.items:
        if item.quantity_left:
            item.buyer_cancel_requested = True
            item.cancel_reason = reason
    _touch(order)
    _announce(world, order, "BuyerRequestedChange", "Buyer Requested Cancel")
    return order


def _touch(order: Order) -> None:
    now = utcnow()
    # LastUpdateDate must strictly increase, or a watermark poller could miss the change.
    order.last_updated = max(now, order.last_updated + timedelta(milliseconds=1))


def _reserve(world: World, order: Order, sign: int) -> None:
    if order.fulfillment_channel != "MFN":
        return
    for item in order.items:
        listing = world.state.listing(order.seller_id, item.sku)
        if listing is not None and listing.quantity is not None:
            listing.quantity = max(0, listing.quantity - sign * item.quantity_left)


def _announce(world: World, order: Order, change_type: str, reason: str) -> None:
    document = world.notifier.build(order, change_type, reason)
    world.spawn(world.notifier.deliver(document))


# --- v0 confirmShipment ------------------------------------------------------------------------------


def confirm_shipment(world: World, seller_id: str, order_id: str, body: dict[str, Any]) -> Order:
    """Accept and apply at once (domain tests); the API handler applies later, as Amazon does."""
    accept_shipment(world, seller_id, order_id, body)()
    return world.state.orders[order_id]


def accept_shipment(world: World, seller_id: str, order_id: str, body: dict[str, Any]) -> Callable[[], None]:
    """Check a confirmation against the order and what is already accepted; return the change to apply.

    Raises ApiError (400 InvalidInput) for what Amazon refuses at once.
    """
    order = world.state.orders.get(order_id)
    if order is None or order.seller_id != seller_id:
        raise ApiError.invalid_input(f"Invalid order id: {order_id}")
    if body["marketplaceId"] != order.marketplace_id:
        raise ApiError.invalid_input("The marketplaceId does not match the order's marketplace.")
    if order.fulfillment_channel != "MFN":
        raise ApiError.invalid_input("Shipment confirmation is only for merchant-fulfilled orders.")
    if order.status not in ("Unshipped", "PartiallyShipped", "Shipped"):
        raise ApiError.invalid_input(f"The order cannot be shipped in status {order.status}.")
    package = body["packageDetail"]
    reference = package["packageReferenceId"]
    if not reference.isdigit() or int(reference) < 1:
        raise ApiError.invalid_input("packageReferenceId must be a positive numeric string.")
    carrier = package["carrierCode"].strip()
    if not carrier:
        raise ApiError.invalid_input("carrierCode is required.")
    if carrier not in CARRIER_CODES:
        raise ApiError.invalid_input(f"Invalid carrierCode: {carrier}. Use 'Other' with carrierName.")
    if carrier == "Other" and not (package.get("carrierName") or "").strip():
        raise ApiError.invalid_input("carrierName is required when carrierCode is 'Other'.")
    if not package["trackingNumber"].strip():
        raise ApiError.invalid_input("trackingNumber must not be empty.")
    quantities: dict[str, int] = {}
    for line in package["orderItems"]:
        if order.item(line["orderItemId"]) is None:
            raise ApiError.invalid_input(f"Invalid orderItemId: {line['orderItemId']}")
        if line["quantity"] < 1:
            raise ApiError.invalid_input("quantity must be at least 1.")
        quantities[line["orderItemId"]] = quantities.get(line["orderItemId"], 0) + line["quantity"]
    if not quantities:
        raise ApiError.invalid_input("orderItems must not be empty.")
    details = {
        "carrier_code": carrier,
        "carrier_name": package.get("carrierName"),
        "tracking_number": package["trackingNumber"],
        "ship_date": package["shipDate"],
        "shipping_method": package.get("shippingMethod"),
    }

    applied = next((p for p in order.packages if p.package_reference_id == reference), None)
    known = applied.items if applied is not None else order.pending_packages.get(reference)
    if known is not None:
        # Amazon lets a confirmed package be edited (carrier, tracking); its items cannot change.
        if known != quantities:
            raise ApiError.invalid_input(f"packageReferenceId {reference} was already confirmed with other items.")
        return lambda: _edit_package(world, order, reference, details)
    for item_id, quantity in quantities.items():
        item = order.item(item_id)
        assert item is not None
        free = item.quantity_left - item.quantity_pending
        if quantity > free:
            raise ApiError.invalid_input(
                f"Quantity {quantity} for orderItemId {item_id} exceeds the {free} left to ship."
            )
    for item_id, quantity in quantities.items():
        item = order.item(item_id)
        assert item is not None
        item.quantity_pending += quantity
    order.pending_packages[reference] = quantities
    return lambda: _add_package(world, order, Package(package_reference_id=reference, items=quantities, **details))


def _edit_package(world: World, order: Order, reference: str, details: dict[str, Any]) -> None:
    existing = next((p for p in order.packages if p.package_reference_id == reference), None)
    if existing is None:  # its first confirmation was dropped (the order was cancelled meanwhile)
        return
    for name, value in details.items():
        setattr(existing, name, value)
    _touch(order)
    world.ledger.record(
        kind="shipment_update",
        seller_id=order.seller_id,
        source="confirmShipment",
        ref=reference,
        order_id=order.order_id,
        value=_ledger_value(existing),
    )


def _add_package(world: World, order: Order, created: Package) -> None:
    order.pending_packages.pop(created.package_reference_id, None)
    for item_id, quantity in created.items.items():
        item = order.item(item_id)
        assert item is not None
        item.quantity_pending -= quantity
    if order.status == "Canceled":
        return  # cancelled between acceptance and processing: nothing ships
    for item_id, quantity in created.items.items():
        item = order.item(item_id)
        assert item is not None
        item.quantity_shipped += quantity
    order.packages.append(created)
    order.status = "Shipped" if all(i.quantity_left == 0 for i in order.items) else "PartiallyShipped"
    _touch(order)
    world.ledger.record(
        kind="shipment",
        seller_id=order.seller_id,
        source="confirmShipment",
        ref=created.package_reference_id,
        order_id=order.order_id,
        value=_ledger_value(created),
    )
    _announce(world, order, "OrderStatusChange", f"Order {order.status}")


def _ledger_value(package: Package) -> dict[str, Any]:
    return {
        "carrierCode": package.carrier_code,
        "trackingNumber": package.tracking_number,
        "shipDate": package.ship_date,
        "items": dict(package.items),
    }


async def confirm_shipment_handler(world: World, call: Call) -> Reply:
    deferred.apply_later(world, accept_shipment(world, call.seller_id, call.params["orderId"], call.body))
    return Reply(204)


# --- v2026-01-01 reads -------------------------------------------------------------------------------


def _money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": str(amount.quantize(CENT)), "currencyCode": currency}


def item_proceeds(item: OrderItem) -> list[tuple[str, Decimal, dict[str, Decimal]]]:
    """The line's proceeds by category (ITEM, SHIPPING, TAX, DISCOUNT), each with its detailed subtypes.

    Tax is charged on item and shipping; discounts are negative proceeds, split by what they take off.
    """
    rate = Decimal(item.tax_rate)
    price = Decimal(item.unit_price) * item.quantity
    shipping = Decimal(item.shipping_price)
    off_item, off_shipping = Decimal(item.discount), Decimal(item.shipping_discount)
    tax = {
        "ITEM": ((price - off_item) * rate).quantize(CENT, ROUND_HALF_UP),
        "SHIPPING": ((shipping - off_shipping) * rate).quantize(CENT, ROUND_HALF_UP),
    }
    out = [("ITEM", price, {}), ("SHIPPING", shipping, {}), ("TAX", sum(tax.values(), Decimal(0)), tax)]
    if off_item or off_shipping:
        out.append(("DISCOUNT", -(off_item + off_shipping), {"ITEM": -off_item, "SHIPPING": -off_shipping}))
    return out


def _breakdowns(item: OrderItem, currency: str) -> list[dict[str, Any]]:
    rendered = []
    for kind, subtotal, detailed in item_proceeds(item):
        entry: dict[str, Any] = {"type": kind, "subtotal": _money(subtotal, currency)}
        if detailed:
            entry["detailedBreakdowns"] = [
                {"subtype": sub, "value": _money(value, currency)} for sub, value in detailed.items()
            ]
        rendered.append(entry)
    return rendered


# What v2026-01-01 shares of the delivery address without the address roles, or before an order can ship.
UNRESTRICTED_ADDRESS = ("city", "stateOrRegion", "postalCode", "countryCode")
EMAIL_STATUSES = ("Unshipped", "PartiallyShipped", "Shipped")


def buyer_view(order: Order, roles: frozenset[str]) -> dict[str, str]:
    """The buyer as Amazon shows it: the name needs a PII role; the (anonymised) email needs the delivery role
    and a merchant-fulfilled order that is unshipped, partially shipped or shipped."""
    out: dict[str, str] = {}
    if "buyerName" in order.buyer and roles & {DIRECT_TO_CONSUMER_DELIVERY, TAX_INVOICING}:
        out["buyerName"] = order.buyer["buyerName"]
    if (
        "buyerEmail" in order.buyer
        and DIRECT_TO_CONSUMER_DELIVERY in roles
        and order.fulfillment_channel == "MFN"
        and order.status in EMAIL_STATUSES
    ):
        out["buyerEmail"] = order.buyer["buyerEmail"]
    return out


def address_view(order: Order, roles: frozenset[str]) -> dict[str, str]:
    """The delivery address: street, name and phone only with the delivery role once the order can ship;
    never a phone for FBA orders or once the latest delivery date has passed."""
    address = dict(order.address)
    if DIRECT_TO_CONSUMER_DELIVERY not in roles or order.status in ("Pending", "PendingAvailability", "Canceled"):
        return {k: v for k, v in address.items() if k in UNRESTRICTED_ADDRESS}
    if order.fulfillment_channel == "AFN" or utcnow() > order.latest_delivery:
        address.pop("phone", None)
    return address


def render(order: Order, included: set[str], roles: frozenset[str]) -> dict[str, Any]:
    """An Order as v2026-01-01 returns it; datasets outside `included` are left out, as Amazon does."""
    marketplace = MARKETPLACES.get(order.marketplace_id)
    currency = order.items[0].currency
    items = []
    for item in order.items:
        rendered: dict[str, Any] = {
            "orderItemId": item.order_item_id,
            "quantityOrdered": item.quantity,
            "product": {
                "asin": item.asin,
                "title": item.title,
                "sellerSku": item.sku,
                "price": {"unitPrice": _money(Decimal(item.unit_price), currency)},
            },
        }
        if "PROCEEDS" in included:
            total = sum((subtotal for _, subtotal, _ in item_proceeds(item)), Decimal(0))
            rendered["proceeds"] = {"proceedsTotal": _money(total, currency), "breakdowns": _breakdowns(item, currency)}
        if "FULFILLMENT" in included:
            rendered["fulfillment"] = {
                "quantityFulfilled": item.quantity_shipped,
                "quantityUnfulfilled": item.quantity_left,
            }
        if "CANCELLATION" in included and item.buyer_cancel_requested:
            rendered["cancellation"] = {
                "cancellationRequest": {"requester": "BUYER", "cancelReason": item.cancel_reason or ""}
            }
        items.append(rendered)
    out: dict[str, Any] = {
        "orderId": order.order_id,
        "createdTime": iso(order.created),
        "lastUpdatedTime": iso(order.last_updated),
        "programs": [p for p, on in (("PRIME", order.is_prime), ("AMAZON_BUSINESS", order.is_business)) if on],
        "salesChannel": {
            "channelName": "AMAZON",
            "marketplaceId": order.marketplace_id,
            **({"marketplaceName": marketplace.name} if marketplace else {}),
        },
        "orderItems": items,
    }
    if "FULFILLMENT" in included:
        out["fulfillment"] = {
            "fulfillmentStatus": STATUS_V2026[order.status],
            "fulfilledBy": "MERCHANT" if order.fulfillment_channel == "MFN" else "AMAZON",
            "fulfillmentServiceLevel": SERVICE_LEVELS[order.ship_service_level],
            "shipByWindow": {"earliestDateTime": iso(order.earliest_ship), "latestDateTime": iso(order.latest_ship)},
            "deliverByWindow": {
                "earliestDateTime": iso(order.earliest_delivery),
                "latestDateTime": iso(order.latest_delivery),
            },
        }
    if "BUYER" in included:
        out["buyer"] = buyer_view(order, roles)
    if "RECIPIENT" in included:
        out["recipient"] = {"deliveryAddress": address_view(order, roles)}
    if "PROCEEDS" in included:
        by_kind: dict[str, Decimal] = {}
        for item in order.items:
            for kind, subtotal, _ in item_proceeds(item):
                by_kind[kind] = by_kind.get(kind, Decimal(0)) + subtotal
        out["proceeds"] = {
            "grandTotal": _money(sum(by_kind.values(), Decimal(0)), currency),
            "breakdowns": [{"type": k, "subtotal": _money(v, currency)} for k, v in by_kind.items()],
        }
    if "PACKAGES" in included and order.packages:
        out["packages"] = [
            {
                "packageReferenceId": p.package_reference_id,
                "createdTime": iso(p.created),
                "packageStatus": {"status": "SHIPPED"},
                "carrier": p.carrier_name or p.carrier_code,
                "shipTime": p.ship_date,
                "trackingNumber": p.tracking_number,
                **({"shippingService": p.shipping_method} if p.shipping_method else {}),
                "packageItems": [{"orderItemId": i, "quantity": q} for i, q in p.items.items()],
            }
            for p in order.packages
        ]
    return out


async def get_order(world: World, call: Call) -> Reply:
    order = world.state.orders.get(call.params["orderId"])
    if order is None or order.seller_id != call.seller_id:
        raise ApiError.not_found(f"Order {call.params['orderId']} not found.")
    roles = world.state.sellers[call.seller_id].pii_roles
    return Reply(200, {"order": render(order, set(call.params.get("includedData", [])), roles)})


async def search_orders(world: World, call: Call) -> Reply:
    params = call.params
    token = params.get("paginationToken")
    if token is not None:
        page = world.state.pagination.pop(token, None)
        if page is None or page["seller_id"] != call.seller_id:
            raise ApiError.invalid_input("Invalid paginationToken.")
    else:
        page = _first_page(world, call)
    size = params.get("maxResultsPerPage", 100)
    if not 1 <= size <= 100:
        raise ApiError.invalid_input("maxResultsPerPage must be between 1 and 100.")
    ids = page["ids"]
    current, rest = ids[:size], ids[size:]
    orders = [world.state.orders[i] for i in current if i in world.state.orders]
    # A page token keeps the first page's datasets unless the caller names them again.
    included = set(params.get("includedData", page.get("included", [])))
    roles = world.state.sellers[call.seller_id].pii_roles
    body: dict[str, Any] = {"orders": [render(o, included, roles) for o in orders], page["bound"]: page["before"]}
    if rest:
        next_token = secrets.token_urlsafe(24)
        world.state.pagination[next_token] = {**page, "ids": rest, "included": sorted(included)}
        body["pagination"] = {"nextToken": next_token}
    return Reply(200, body)


def search_horizon(world: World) -> datetime:
    """The latest Before searchOrders accepts, and its default: Amazon shows no change younger than two minutes."""
    return utcnow() - timedelta(seconds=world.config.scaled(world.config.order_visibility_lag_seconds))


def searchable(world: World, order: Order) -> bool:
    """Whether searchOrders with its default Before shows the order as it is now, whichever date it filters on."""
    return order.last_updated <= search_horizon(world)


def _first_page(world: World, call: Call) -> dict[str, Any]:
    params = call.params
    created_after, updated_after = params.get("createdAfter"), params.get("lastUpdatedAfter")
    if (created_after is None) == (updated_after is None):
        raise ApiError.invalid_input("Exactly one of createdAfter and lastUpdatedAfter must be provided.")
    if created_after is not None and ("lastUpdatedBefore" in params):
        raise ApiError.invalid_input("lastUpdatedBefore cannot be combined with createdAfter.")
    if updated_after is not None and ("createdBefore" in params):
        raise ApiError.invalid_input("createdBefore cannot be combined with lastUpdatedAfter.")
    by_created = created_after is not None
    after = parse_iso(created_after if by_created else updated_after)
    horizon = search_horizon(world)
    before_text = params.get("createdBefore" if by_created else "lastUpdatedBefore")
    before = parse_iso(before_text) if before_text else horizon
    if before > horizon:
        raise ApiError.invalid_input("The Before date must be at least two minutes before the time of the request.")
    if before < after:
        raise ApiError.invalid_input("The Before date must be equal to or after the After date.")
    seller = world.state.sellers[call.seller_id]
    marketplaces = params.get("marketplaceIds") or seller.marketplace_ids
    unknown = [m for m in marketplaces if m not in seller.marketplace_ids]
    if unknown:
        raise ApiError.invalid_input(f"Invalid marketplaceIds: {', '.join(unknown)}")
    statuses = set(params.get("fulfillmentStatuses", STATUS_V2026.values()))
    fulfilled_by = set(params.get("fulfilledBy", ["MERCHANT", "AMAZON"]))

    def stamp(order: Order) -> Any:
        return order.created if by_created else order.last_updated

    matching = sorted(
        (
            o
            for o in world.state.orders.values()
            if o.seller_id == call.seller_id
            and o.marketplace_id in marketplaces
            and STATUS_V2026[o.status] in statuses
            and ("MERCHANT" if o.fulfillment_channel == "MFN" else "AMAZON") in fulfilled_by
            and after <= stamp(o) <= before
        ),
        key=lambda o: (stamp(o), o.order_id),
    )
    return {
        "seller_id": call.seller_id,
        "ids": [o.order_id for o in matching],
        "bound": "createdBefore" if by_created else "lastUpdatedBefore",
        "before": iso(before),
    }
