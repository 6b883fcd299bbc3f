"""Rules of a shipment confirmation: the carrier Amazon is told, and the checks made before Amazon is called."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import spapi
from contracts import ConnectionSettingsV1
from contracts.carriers import AMAZON_CARRIER_CODES

# A WMS clock a little ahead of ours is not a shipment from the future.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Carrier:
    code: str
    name: str | None


def carrier_for(settings: ConnectionSettingsV1 | None, carrier: str) -> Carrier:
    """The connection's carrier mapping decides; an unmapped carrier is Amazon's code when it is one, else Other."""
    mapped = settings.carrier_mapping.get(carrier) if settings else None
    if mapped is not None:
        return Carrier(mapped.code, mapped.name)
    if carrier in AMAZON_CARRIER_CODES:
        return Carrier(carrier, None)
    return Carrier("Other", carrier)


@dataclass(frozen=True, slots=True)
class KnownItem:
    order_item_id: str
    sku: str
    quantity_ordered: int
    quantity_shipped: int


@dataclass(frozen=True, slots=True)
class Line:
    order_item_id: str | None
    sku: str | None
    quantity: int


class Rejection(Exception):
    """A package that must not be sent to Amazon; the message is the reason published on shipment.confirmed."""


def amazon_items(order: spapi.Order) -> dict[str, KnownItem]:
    out = {}
    for item in order.order_items:
        shipped = item.fulfillment.quantity_fulfilled if item.fulfillment else None
        out[item.order_item_id] = KnownItem(
            item.order_item_id, item.product.seller_sku or "", item.quantity_ordered, shipped or 0
        )
    return out


def resolve(
    lines: Sequence[Line],
    *,
    local: Mapping[str, KnownItem],
    amazon: Mapping[str, KnownItem] | None,
    in_flight: Mapping[str, int],
    carrier_code: str,
    ship_date: datetime,
    now: datetime,
) -> dict[str, int]:
    """Quantities per Amazon order item id, or Rejection.

    `local` is the order as orders-ingest last saw it, `amazon` as getOrder shows it now; an item must be in both.
    With `amazon`, `in_flight` counts units of this order's other packages that Amazon accepted but does not show
    yet. Without it (Amazon not read: the order as orders-ingest saw it decides), `in_flight` counts every other
    package of ours Amazon has or may have taken; orders-ingest's shipped count may already include them, so the
    larger of the two is taken (units shipped elsewhere since orders-ingest looked are Amazon's to refuse).
    """
    if carrier_code not in AMAZON_CARRIER_CODES:
        raise Rejection(f"carrier code {carrier_code!r} is not on Amazon's carrier list")
    if ship_date > now + CLOCK_SKEW:
        raise Rejection(f"ship date {ship_date.isoformat()} is in the future")
    reference = amazon if amazon is not None else local
    by_sku = {i.sku: i.order_item_id for i in reference.values() if i.sku}
    quantities: dict[str, int] = {}
    for line in lines:
        item_id = line.order_item_id or by_sku.get(line.sku or "")
        if item_id is None:
            raise Rejection(f"SKU {line.sku} is not an item of the order")
        if item_id not in reference or (local and item_id not in local):
            raise Rejection(f"order item {item_id} is not an item of the order")
        quantities[item_id] = quantities.get(item_id, 0) + line.quantity
    for item_id, quantity in quantities.items():
        item = reference[item_id]
        seen = local.get(item_id)
        if amazon is None:
            shipped = max(item.quantity_shipped, in_flight.get(item_id, 0))
        else:
            shipped = max(item.quantity_shipped, seen.quantity_shipped if seen else 0) + in_flight.get(item_id, 0)
        left = item.quantity_ordered - shipped
        if quantity > left:
            raise Rejection(
                f"quantity {quantity} of order item {item_id} exceeds the {max(left, 0)} left to ship "
                f"({item.quantity_ordered} ordered, {shipped} already shipped)"
            )
    return quantities
