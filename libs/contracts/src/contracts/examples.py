"""Realistic valid payloads and deliberately broken ones, per topic, as JSON a publisher would write.

They feed the tests, `python -m contracts example`, and the examples in the exported schemas.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.envelope import CloudEvent, new_event
from contracts.topics import topic_spec

__all__ = ["EXAMPLES", "INVALID_EXAMPLES", "InvalidExample", "example_event"]

Json = dict[str, Any]


def _money(amount: str, currency: str = "USD") -> Json:
    return {"amount": amount, "currency": currency}


_SETTINGS: Json = {
    "stock_warehouse_ids": ["WH-RENO", "WH-NEWARK"],
    "handling_time_days": 2,
    "stock_cadence": {"mode": "daily", "local_time": "00:00", "timezone": "America/Los_Angeles"},
    "order_import": "unshipped_only",
    "product_code": "seller_sku",
    "ship_method_mapping": {"Standard": "GROUND", "Expedited": "2DAY", "NextDay": "OVERNIGHT"},
    "carrier_mapping": {
        "ups": {"code": "UPS", "name": None},
        "fedex": {"code": "FedEx", "name": None},
        "local-courier": {"code": "Other", "name": "Reno Same Day Couriers"},
    },
    "order_poll_interval_minutes": 15,
    "fba_handling": False,
}

_CONNECTION: Json = {
    "connection_id": "conn-us-acme",
    "revision": 7,
    "name": "Acme Outdoor US",
    "status": "active",
    "region": "NA",
    "marketplace_ids": ["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"],
    "selling_partner_id": "A3EXAMPLE8SELLER",
    "authorized_at": "2026-02-01T09:30:00Z",
    "reauthorization_deadline": "2027-02-01T09:30:00Z",
    "warnings": [],
    "settings": _SETTINGS,
    "updated_at": "2026-08-06T14:00:00Z",
}

_LINE: Json = {
    "order_item_id": "79039765272157",
    "seller_sku": "TENT-2P-GRN",
    "asin": "B07XJ8C8F5",
    "product_code": "TENT-2P-GRN",
    "title": "Trailhead 2-Person Backpacking Tent, Green",
    "quantity_ordered": 2,
    "quantity_shipped": 0,
    "item_price": _money("259.98"),
    "item_tax": _money("21.45"),
    "shipping_price": _money("0.00"),
    "shipping_tax": _money("0.00"),
    "promotion_discount": _money("20.00"),
}

_ORDER: Json = {
    "connection_id": "conn-us-acme",
    "selling_partner_id": "A3EXAMPLE8SELLER",
    "marketplace_id": "ATVPDKIKX0DER",
    "amazon_order_id": "113-8871264-0934622",
    "last_update_date": "2026-08-06T14:52:11Z",
    "status": "Unshipped",
    "purchase_date": "2026-08-06T14:31:07Z",
    "fulfillment_channel": "MFN",
    "ship_service_level": "Std US D2D Dom",
    "ship_service_level_category": "Standard",
    "internal_ship_method": "GROUND",
    "is_prime": True,
    "is_business_order": False,
    "earliest_ship_date": "2026-08-07T07:00:00Z",
    "latest_ship_date": "2026-08-08T06:59:59Z",
    "buyer_ref": "buyer-5e0c9a4b2f7d18e3",
    "buyer_name": "Jordan Rivera",
    "buyer_email": "k3x9qz7w2mlp4vd@marketplace.amazon.com",
    "buyer_phone": "+1 775-555-0142",
    "ship_to": {
        "recipient_name": "Jordan Rivera",
        "address_line1": "1450 Sierra Vista Dr",
        "address_line2": "Apt 3B",
        "address_line3": None,
        "city": "Reno",
        "state_or_region": "NV",
        "postal_code": "89503-1234",
        "country_code": "US",
        "phone": "+1 775-555-0142",
    },
    "lines": [
        _LINE,
        {
            **_LINE,
            "order_item_id": "79039765272158",
            "seller_sku": "STAKE-AL-8",
            "asin": "B01N5IB20Q",
            "product_code": "STAKE-AL-8",
            "title": "Aluminium Tent Stakes, 8 pack",
            "quantity_ordered": 1,
            "item_price": _money("12.99"),
            "item_tax": _money("1.07"),
            "promotion_discount": _money("0.00"),
        },
    ],
}

_FBA_ORDER: Json = {
    **_ORDER,
    "connection_id": "conn-de-acme",
    "marketplace_id": "A1PA6795UKMFR9",
    "amazon_order_id": "302-1187342-5562719",
    "status": "Shipped",
    "fulfillment_channel": "AFN",
    "ship_service_level": "Expedited",
    "ship_service_level_category": "Expedited",
    "internal_ship_method": None,
    "is_prime": True,
    "earliest_ship_date": None,
    "latest_ship_date": None,
    "buyer_ref": "buyer-a91d07c3e4b65f28",
    "buyer_name": None,
    "buyer_email": None,
    "buyer_phone": None,
    "ship_to": None,
    "lines": [
        {
            **_LINE,
            "order_item_id": "51234987612093",
            "seller_sku": "SLEEPBAG-3S",
            "asin": "B08KTZ8249",
            "product_code": "B08KTZ8249",
            "title": "Three-season sleeping bag",
            "quantity_ordered": 1,
            "quantity_shipped": 1,
            "item_price": _money("89.90", "EUR"),
            "item_tax": _money("14.35", "EUR"),
            "shipping_price": _money("0.00", "EUR"),
            "shipping_tax": _money("0.00", "EUR"),
            "promotion_discount": _money("0.00", "EUR"),
        }
    ],
}

_SHIPMENT: Json = {
    "shipment_id": "SHP-2026-0806-00412",
    "connection_id": "conn-us-acme",
    "marketplace_id": "ATVPDKIKX0DER",
    "amazon_order_id": "113-8871264-0934622",
    "packages": [
        {
            "carrier": "ups",
            "service": "UPS Ground",
            "tracking_number": "1Z999AA10123456784",
            "ship_date": "2026-08-07T16:20:00-07:00",
            "items": [{"order_item_id": "79039765272157", "quantity": 2}],
        },
        {
            "carrier": "local-courier",
            "service": None,
            "tracking_number": "RSD-55102",
            "ship_date": "2026-08-07T16:45:00-07:00",
            "items": [{"sku": "STAKE-AL-8", "quantity": 1}],
        },
    ],
}

_LISTING: Json = {
    "connection_id": "conn-us-acme",
    "sku": "TENT-2P-GRN",
    "listing_key": "conn-us-acme:TENT-2P-GRN",
    "revision": 3,
    "marketplace_id": "ATVPDKIKX0DER",
    "asin": "B07XJ8C8F5",
    "title": "Trailhead 2-Person Backpacking Tent, Green",
    "status": "BUYABLE",
    "condition": "new_new",
    "price": _money("129.99"),
    "fulfillment_channel": "MFN",
    "mfn_quantity": 52,
    "parent_sku": "TENT-2P",
    "variation_theme": "Color",
    "variation_attributes": {"color": "Green"},
    "item_id": "ITEM-TENT-2P-GRN",
    "amazon_last_updated": "2026-08-06T12:14:31Z",
    "updated_at": "2026-08-06T12:30:02Z",
}

EXAMPLES: dict[str, tuple[Json, ...]] = {
    "connection.updated": (
        _CONNECTION,
        {
            **_CONNECTION,
            "connection_id": "conn-eu-acme",
            "revision": 3,
            "name": "Acme Outdoor EU",
            "region": "EU",
            "marketplace_ids": ["A1PA6795UKMFR9", "A13V1IB3VIYZZH", "A1F83G8C2ARO7P"],
            "status": "disabled",
            "warnings": [{"code": "reauthorization_due", "deadline": "2026-08-30T08:00:00+02:00"}],
            "reauthorization_deadline": "2026-08-30T08:00:00+02:00",
            "settings": {
                **_SETTINGS,
                "stock_warehouse_ids": ["WH-LEIPZIG"],
                "stock_cadence": {"mode": "interval", "every_minutes": 10},
                "order_import": "include_fulfilled",
                "product_code": "asin",
                "carrier_mapping": {"dhl": {"code": "DHL", "name": None}},
                "order_poll_interval_minutes": 60,
                "fba_handling": True,
            },
        },
    ),
    "order.received": (_ORDER, _FBA_ORDER),
    "order.cancelled": (
        {
            "connection_id": "conn-us-acme",
            "marketplace_id": "ATVPDKIKX0DER",
            "amazon_order_id": "113-8871264-0934622",
            "last_update_date": "2026-08-06T15:10:40Z",
            "cancelled_by": "buyer",
            "buyer_cancel_reason": "Ordered the wrong size",
        },
    ),
    "stock.changed": (
        {"sku": "TENT-2P-GRN", "warehouse_id": "WH-RENO", "available": 37, "as_of": "2026-08-06T13:59:12.481Z"},
        {"sku": "STAKE-AL-8", "warehouse_id": "WH-NEWARK", "available": 0, "as_of": "2026-08-06T09:59:12-04:00"},
    ),
    "stock.published": (
        {
            "connection_id": "conn-us-acme",
            "sku": "TENT-2P-GRN",
            "marketplace_ids": ["ATVPDKIKX0DER"],
            "quantity": 52,
            "handling_time_days": 2,
            "as_of": "2026-08-06T13:59:12.481Z",
            "channel": "listings_feed",
            "submission_id": "50038019753",
            "outcome": "accepted",
            "issues": [],
            "published_at": "2026-08-06T14:07:44Z",
        },
        {
            "connection_id": "conn-us-acme",
            "sku": "STAKE-AL-8",
            "marketplace_ids": ["ATVPDKIKX0DER"],
            "quantity": 0,
            "handling_time_days": 2,
            "as_of": "2026-08-06T13:59:12Z",
            "channel": "listings_api",
            "submission_id": "f1dc2914-75dd-11ea-bc55-0242ac130003",
            "outcome": "rejected",
            "issues": [
                {
                    "code": "4000001",
                    "severity": "ERROR",
                    "message": "The SKU does not exist for this seller in the marketplace.",
                    "attribute_name": None,
                }
            ],
            "published_at": "2026-08-06T14:03:02Z",
        },
        {
            "connection_id": "conn-us-acme",
            "sku": "TENT-2P-GRN",
            "marketplace_ids": ["ATVPDKIKX0DER"],
            "quantity": 52,
            "handling_time_days": 2,
            "as_of": "2026-08-06T13:59:12.481Z",
            "channel": "listings_feed",
            "submission_id": "50038019753",
            "outcome": "accepted",
            "issues": [],
            "verification": "drifted",
            "amazon_quantity": 49,
            "published_at": "2026-08-06T14:09:10Z",
        },
    ),
    "shipment.created": (_SHIPMENT,),
    "shipment.confirmed": (
        {
            "shipment_id": "SHP-2026-0806-00412",
            "connection_id": "conn-us-acme",
            "marketplace_id": "ATVPDKIKX0DER",
            "amazon_order_id": "113-8871264-0934622",
            "packages": [
                {
                    "package_reference_id": "1",
                    "carrier_code": "UPS",
                    "carrier_name": None,
                    "tracking_number": "1Z999AA10123456784",
                    "ship_date": "2026-08-07T23:20:00Z",
                    "outcome": "accepted",
                    "error_code": None,
                    "error_message": None,
                },
                {
                    "package_reference_id": "2",
                    "carrier_code": "Other",
                    "carrier_name": "Reno Same Day Couriers",
                    "tracking_number": "RSD-55102",
                    "ship_date": "2026-08-07T23:45:00Z",
                    "outcome": "rejected",
                    "error_code": "InvalidInput",
                    "error_message": "Tracking number format is not valid for the carrier.",
                },
            ],
            "confirmed_at": "2026-08-07T23:51:09Z",
        },
    ),
    "order.completed": (
        {
            "connection_id": "conn-us-acme",
            "marketplace_id": "ATVPDKIKX0DER",
            "amazon_order_id": "113-8871264-0934622",
            "status": "completed",
            "occurred_at": "2026-08-07T17:02:00-07:00",
        },
        {
            "connection_id": "conn-us-acme",
            "marketplace_id": "ATVPDKIKX0DER",
            "amazon_order_id": "114-3941689-8772232",
            "status": "cancelled",
            "cancel_reason": "NoInventory",
            "occurred_at": "2026-08-06T18:30:00Z",
        },
    ),
    "order.redacted": (
        {
            "connection_id": "conn-us-acme",
            "amazon_order_id": "113-8871264-0934622",
            "reason": "retention_elapsed",
            "redacted_at": "2026-09-10T03:00:00Z",
            "replacement": "REDACTED",
        },
    ),
    "listing.updated": (
        _LISTING,
        {
            **_LISTING,
            "connection_id": "conn-de-acme",
            "sku": "SLEEPBAG-3S-FBA",
            "listing_key": "conn-de-acme:SLEEPBAG-3S-FBA",
            "revision": 1,
            "marketplace_id": "A1PA6795UKMFR9",
            "asin": "B08KTZ8249",
            "title": "Schlafsack für drei Jahreszeiten",
            "status": "DISCOVERABLE",
            "price": _money("89.90", "EUR"),
            "fulfillment_channel": "FBA",
            "mfn_quantity": None,
            "parent_sku": None,
            "variation_theme": None,
            "variation_attributes": {},
            "item_id": "SLEEPBAG-3S-FBA",
        },
    ),
    "fba.inventory": (
        {
            "connection_id": "conn-de-acme",
            "sku": "SLEEPBAG-3S-FBA",
            "listing_key": "conn-de-acme:SLEEPBAG-3S-FBA",
            "marketplace_id": "A1PA6795UKMFR9",
            "fulfillable": 41,
            "inbound_working": 10,
            "inbound_shipped": 24,
            "inbound_receiving": 6,
            "reserved": 3,
            "unfulfillable": 1,
            "researching": 0,
            "total": 85,
            "as_of": "2026-08-06T13:00:00Z",
        },
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class InvalidExample:
    topic: str
    description: str
    payload: Json
    field: str
    """Dotted path (within `data`) that the error must name."""
    schema_rejects: bool = True
    """False for rules JSON Schema cannot express (cross-field checks between list items and the like)."""


def _broken(topic: str, index: int, path: str, value: Any, *, delete: bool = False) -> Json:
    payload = copy.deepcopy(EXAMPLES[topic][index])
    *parents, leaf = path.split(".")
    node: Any = payload
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if delete:
        del node[leaf]
    elif isinstance(node, list):
        node[int(leaf)] = value
    else:
        node[leaf] = value
    return payload


_LONG_SKU = "S" * 41

INVALID_EXAMPLES: tuple[InvalidExample, ...] = (
    InvalidExample(
        topic="stock.changed",
        description="SKU longer than 40 characters",
        payload=_broken("stock.changed", 0, "sku", _LONG_SKU),
        field="sku",
    ),
    InvalidExample(
        topic="stock.changed",
        description="empty SKU",
        payload=_broken("stock.changed", 0, "sku", ""),
        field="sku",
    ),
    InvalidExample(
        topic="stock.changed",
        description="negative quantity",
        payload=_broken("stock.changed", 0, "available", -3),
        field="available",
    ),
    InvalidExample(
        topic="stock.changed",
        description="fractional quantity",
        payload=_broken("stock.changed", 0, "available", 2.5),
        field="available",
    ),
    InvalidExample(
        topic="stock.changed",
        description="quantity as a string",
        payload=_broken("stock.changed", 0, "available", "12"),
        field="available",
    ),
    InvalidExample(
        topic="stock.changed",
        description="naive timestamp",
        payload=_broken("stock.changed", 0, "as_of", "2026-08-06T13:59:12"),
        field="as_of",
    ),
    InvalidExample(
        topic="stock.changed",
        description="unknown field (a typo of available)",
        payload={**EXAMPLES["stock.changed"][0], "availble": 5},
        field="availble",
    ),
    InvalidExample(
        topic="stock.changed",
        description="warehouse missing",
        payload=_broken("stock.changed", 0, "warehouse_id", None, delete=True),
        field="warehouse_id",
    ),
    InvalidExample(
        topic="order.received",
        description="price as a JSON number",
        payload=_broken("order.received", 0, "lines.0.item_price.amount", 259.98),
        field="lines.0.item_price.amount",
    ),
    InvalidExample(
        topic="order.received",
        description="currency not in ISO 4217",
        payload=_broken("order.received", 0, "lines.0.item_tax.currency", "DOLLAR"),
        field="lines.0.item_tax.currency",
    ),
    InvalidExample(
        topic="order.received",
        description="marketplace id not Amazon's",
        payload=_broken("order.received", 0, "marketplace_id", "A1B2C3D4E5F6G7"),
        field="marketplace_id",
    ),
    InvalidExample(
        topic="order.received",
        description="malformed Amazon order id",
        payload=_broken("order.received", 0, "amazon_order_id", "113-88712640934622"),
        field="amazon_order_id",
    ),
    InvalidExample(
        topic="order.received",
        description="more shipped than ordered",
        payload=_broken("order.received", 0, "lines.1.quantity_shipped", 5),
        field="lines.1.quantity_shipped",
        schema_rejects=False,
    ),
    InvalidExample(
        topic="order.received",
        description="line tax in another currency than its price",
        payload=_broken("order.received", 0, "lines.0.item_tax.currency", "EUR"),
        field="lines.0.item_tax",
        schema_rejects=False,
    ),
    InvalidExample(
        topic="order.received",
        description="no lines",
        payload=_broken("order.received", 0, "lines", []),
        field="lines",
    ),
    InvalidExample(
        topic="stock.published",
        description="rejected without Amazon's issues",
        payload=_broken("stock.published", 1, "issues", []),
        field="issues",
    ),
    InvalidExample(
        topic="shipment.created",
        description="package item with neither order_item_id nor sku",
        payload=_broken("shipment.created", 0, "packages.1.items.0", {"quantity": 1}),
        field="packages.1.items.0.sku",
    ),
    InvalidExample(
        topic="shipment.created",
        description="package item quantity 0",
        payload=_broken("shipment.created", 0, "packages.0.items.0.quantity", 0),
        field="packages.0.items.0.quantity",
    ),
    InvalidExample(
        topic="shipment.created",
        description="unknown field inside a package",
        payload=_broken("shipment.created", 0, "packages.0.weight_kg", 2.1),
        field="packages.0.weight_kg",
    ),
    InvalidExample(
        topic="order.completed",
        description="cancelled without a cancel reason",
        payload=_broken("order.completed", 1, "cancel_reason", None, delete=True),
        field="cancel_reason",
    ),
    InvalidExample(
        topic="order.completed",
        description="completed with a cancel reason",
        payload=_broken("order.completed", 0, "cancel_reason", "NoInventory"),
        field="cancel_reason",
    ),
    InvalidExample(
        topic="order.completed",
        description="status outside completed/cancelled",
        payload=_broken("order.completed", 0, "status", "shipped"),
        field="status",
    ),
    InvalidExample(
        topic="connection.updated",
        description="handling time above 30 days",
        payload=_broken("connection.updated", 0, "settings.handling_time_days", 45),
        field="settings.handling_time_days",
    ),
    InvalidExample(
        topic="connection.updated",
        description="stock cadence faster than every 10 minutes",
        payload=_broken("connection.updated", 0, "settings.stock_cadence", {"mode": "interval", "every_minutes": 5}),
        field="settings.stock_cadence.interval.every_minutes",
    ),
    InvalidExample(
        topic="connection.updated",
        description="carrier code not in Amazon's list",
        payload=_broken("connection.updated", 0, "settings.carrier_mapping.ups.code", "UPS Freight"),
        field="settings.carrier_mapping.ups.code",
    ),
    InvalidExample(
        topic="listing.updated",
        description="listing key not '<connection_id>:<sku>'",
        payload=_broken("listing.updated", 0, "listing_key", "conn-us-acme:OTHER-SKU"),
        field="listing_key",
        schema_rejects=False,
    ),
    InvalidExample(
        topic="listing.updated",
        description="fulfillment channel AFN instead of FBA",
        payload=_broken("listing.updated", 0, "fulfillment_channel", "AFN"),
        field="fulfillment_channel",
    ),
    InvalidExample(
        topic="fba.inventory",
        description="negative fulfillable quantity",
        payload=_broken("fba.inventory", 0, "fulfillable", -1),
        field="fulfillable",
    ),
    InvalidExample(
        topic="connection.updated",
        description="EU marketplace on an NA connection",
        payload=_broken("connection.updated", 0, "marketplace_ids", ["ATVPDKIKX0DER", "A1PA6795UKMFR9"]),
        field="marketplace_ids",
        schema_rejects=False,
    ),
)


def example_event(topic: str, index: int = 0) -> CloudEvent[Any]:
    """The `index`-th example of `topic` wrapped in its envelope, as it would sit in a Kafka value."""
    spec = topic_spec(topic)
    data = spec.payload.model_validate(EXAMPLES[topic][index])
    revision_source = {
        "connection.updated": "revision",
        "order.received": "last_update_date",
        "order.cancelled": "last_update_date",
        "stock.changed": "as_of",
        "stock.published": "submission_id",
        "shipment.confirmed": "confirmed_at",
        "order.completed": "status",
        "order.redacted": "redacted_at",
        "listing.updated": "revision",
        "fba.inventory": "as_of",
    }.get(topic)
    revision = "1" if revision_source is None else _text(getattr(data, revision_source))
    return new_event(
        topic,
        data,
        source=_EXTERNAL_SOURCES.get(topic, spec.producer),
        revision=revision,
        time=datetime.fromisoformat("2026-08-06T15:04:05+00:00"),
    )


_EXTERNAL_SOURCES = {"stock.changed": "acme-wms", "shipment.created": "acme-wms", "order.completed": "acme-oms"}


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
