"""What the emulated Amazon knows: sellers, listings, orders, feeds, documents and reports.

All state lives on one event loop (the server's), so a handler's changes between two awaits are atomic.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import random
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

DEFAULT_SELLER_ID = "A1SANDBOXSELLER"
DEFAULT_MARKETPLACE_ID = "ATVPDKIKX0DER"
# Stable across restarts and resets, so a developer can configure a connection without the consent flow.
DEFAULT_REFRESH_TOKEN = "Atzr|sandbox-default-seller-refresh-token"  # noqa: S105 - public sandbox fixture


@dataclasses.dataclass(frozen=True, slots=True)
class Marketplace:
    id: str
    country_code: str
    name: str
    currency: str
    language: str
    domain: str
    region: str


MARKETPLACES: dict[str, Marketplace] = {
    m.id: m
    for m in [
        Marketplace("ATVPDKIKX0DER", "US", "Amazon.com", "USD", "en_US", "www.amazon.com", "NA"),
        Marketplace("A2EUQ1WTGCTBG2", "CA", "Amazon.ca", "CAD", "en_CA", "www.amazon.ca", "NA"),
        Marketplace("A1AM78C64UM0Y8", "MX", "Amazon.com.mx", "MXN", "es_MX", "www.amazon.com.mx", "NA"),
        Marketplace("A2Q3Y263D00KWC", "BR", "Amazon.com.br", "BRL", "pt_BR", "www.amazon.com.br", "NA"),
        Marketplace("A1F83G8C2ARO7P", "GB", "Amazon.co.uk", "GBP", "en_GB", "www.amazon.co.uk", "EU"),
        Marketplace("A1PA6795UKMFR9", "DE", "Amazon.de", "EUR", "de_DE", "www.amazon.de", "EU"),
        Marketplace("A13V1IB3VIYZZH", "FR", "Amazon.fr", "EUR", "fr_FR", "www.amazon.fr", "EU"),
        Marketplace("APJ6JRA9NG5V4", "IT", "Amazon.it", "EUR", "it_IT", "www.amazon.it", "EU"),
        Marketplace("A1RKKUPIHCS9HS", "ES", "Amazon.es", "EUR", "es_ES", "www.amazon.es", "EU"),
        Marketplace("A1805IZSGTT6HS", "NL", "Amazon.nl", "EUR", "nl_NL", "www.amazon.nl", "EU"),
        Marketplace("A2NODRKZP88ZB9", "SE", "Amazon.se", "SEK", "sv_SE", "www.amazon.se", "EU"),
        Marketplace("A1C3SOZRARQ6R3", "PL", "Amazon.pl", "PLN", "pl_PL", "www.amazon.pl", "EU"),
        Marketplace("A21TJRUUN4KGV", "IN", "Amazon.in", "INR", "en_IN", "www.amazon.in", "EU"),
        Marketplace("A1VC38T7YXB528", "JP", "Amazon.co.jp", "JPY", "ja_JP", "www.amazon.co.jp", "FE"),
        Marketplace("A39IBJ37TRP1C6", "AU", "Amazon.com.au", "AUD", "en_AU", "www.amazon.com.au", "FE"),
        Marketplace("A19VAU5U5O7RUS", "SG", "Amazon.sg", "SGD", "en_SG", "www.amazon.sg", "FE"),
    ]
}

# Amazon also lists non-retail marketplaces (non-Amazon sales channels such as multi-channel fulfilment, and the
# US invoicing shadow marketplace) in getMarketplaceParticipations, with isParticipating true. They are keyed by
# the retail marketplace whose country they belong to; nothing can be sold there through the Orders or Listings APIs.
NON_RETAIL_MARKETPLACES: dict[str, list[Marketplace]] = {
    "ATVPDKIKX0DER": [
        Marketplace("A2ZV50J4W1RKNI", "US", "Non-Amazon", "USD", "en_US", "sim1.stores.amazon.com", "NA"),
        Marketplace(
            "AHRY1CZE9ZY4H",
            "US",
            "Amazon.com Invoicing Shadow Marketplace",
            "USD",
            "en_US",
            "invoicingshadowmarketplace.amazon.com",
            "NA",
        ),
    ],
    "A2EUQ1WTGCTBG2": [
        Marketplace("A1MQXOICRS2Z7M", "CA", "SI CA Prod Marketplace", "CAD", "en_CA", "siprodca.stores.amazon.ca", "NA")
    ],
    "A1AM78C64UM0Y8": [
        Marketplace(
            "A3H6HPSLHAK3XG", "MX", "SI Prod MX Marketplace", "MXN", "es_MX", "siprodmx.stores.amazon.com.mx", "NA"
        )
    ],
    "A1F83G8C2ARO7P": [
        Marketplace("AZMDEXL2RVFNN", "GB", "SI UK Prod Marketplace", "GBP", "en_GB", "siprod.stores.amazon.co.uk", "EU")
    ],
    "A1PA6795UKMFR9": [
        Marketplace("A38D8NSA03LJTC", "DE", "SI Prod DE Marketplace", "EUR", "de_DE", "siprodde.stores.amazon.de", "EU")
    ],
    "A13V1IB3VIYZZH": [
        Marketplace("A1ZFFQZ3HTUKT9", "FR", "SI Prod FR Marketplace", "EUR", "fr_FR", "siprodfr.stores.amazon.fr", "EU")
    ],
    "APJ6JRA9NG5V4": [
        Marketplace("A62U237T8HV6N", "IT", "SI Prod IT Marketplace", "EUR", "it_IT", "siprodit.stores.amazon.it", "EU")
    ],
    "A1RKKUPIHCS9HS": [
        Marketplace("AFQLKURYRPEL8", "ES", "SI Prod ES Marketplace", "EUR", "es_ES", "siprodes.stores.amazon.es", "EU")
    ],
}

OrderStatus = Literal["PendingAvailability", "Pending", "Unshipped", "PartiallyShipped", "Shipped", "Canceled"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# Restricted roles that decide which buyer PII v2026-01-01 returns (docs: access-orders-pii). The default seller's
# application holds them all; a test can take them away to see what Amazon withholds.
DIRECT_TO_CONSUMER_DELIVERY = "DIRECT_TO_CONSUMER_DELIVERY"
TAX_INVOICING = "TAX_INVOICING"
PII_ROLES = (DIRECT_TO_CONSUMER_DELIVERY, TAX_INVOICING)


@dataclasses.dataclass(slots=True, kw_only=True)
class Seller:
    selling_partner_id: str
    region: str
    marketplace_ids: list[str]
    store_name: str
    pii_roles: frozenset[str] = frozenset(PII_ROLES)


@dataclasses.dataclass(slots=True, kw_only=True)
class Listing:
    seller_id: str
    sku: str
    asin: str
    marketplace_id: str
    fulfillment: Literal["MFN", "AFN"]
    quantity: int | None
    handling_time: int | None
    product_type: str = "PRODUCT"
    item_name: str = ""
    # Other fulfillment_availability fields (restock_date, is_inventory_available) kept as sent.
    availability_extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)
    created: datetime = dataclasses.field(default_factory=utcnow)
    updated: datetime = dataclasses.field(default_factory=utcnow)
    price: str = "19.99"
    # Variation family: a child names its parent; the parent carries the theme and no attribute values.
    parent_sku: str | None = None
    variation_theme: str | None = None
    variation_attributes: dict[str, str] = dataclasses.field(default_factory=dict)
    # FBA quantities (getInventorySummaries inventoryDetails), AFN listings only.
    fba: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def channel_code(self) -> str:
        return "DEFAULT" if self.fulfillment == "MFN" else "AMAZON_NA"

    def availability_attribute(self) -> dict[str, Any] | None:
        """The fulfillment_availability entry as Amazon would hold it (only present fields)."""
        if self.fulfillment == "MFN" and self.quantity is None and self.handling_time is None:
            return None
        entry: dict[str, Any] = {"fulfillment_channel_code": self.channel_code}
        if self.quantity is not None:
            entry["quantity"] = self.quantity
        if self.handling_time is not None:
            entry["lead_time_to_ship_max_days"] = self.handling_time
        entry.update(self.availability_extra)
        return entry


@dataclasses.dataclass(slots=True, kw_only=True)
class OrderItem:
    order_item_id: str
    sku: str
    asin: str
    title: str
    quantity: int
    unit_price: str
    currency: str
    # Line totals charged to the buyer besides the item price; discounts are positive amounts taken off.
    shipping_price: str = "0.00"
    tax_rate: str = "0"
    discount: str = "0.00"
    shipping_discount: str = "0.00"
    quantity_shipped: int = 0
    # Accepted by confirmShipment but not applied yet (deferred.apply_later): no longer free to confirm.
    quantity_pending: int = 0
    buyer_cancel_requested: bool = False
    cancel_reason: str | None = None
    # Cancelled by the seller (POST_ORDER_ACKNOWLEDGEMENT_DATA): no longer to ship.
    quantity_cancelled: int = 0

    @property
    def quantity_left(self) -> int:
        return self.quantity - self.quantity_shipped - self.quantity_cancelled


@dataclasses.dataclass(slots=True, kw_only=True)
class Package:
    package_reference_id: str
    carrier_code: str
    carrier_name: str | None
    tracking_number: str
    ship_date: str
    shipping_method: str | None
    items: dict[str, int]
    created: datetime = dataclasses.field(default_factory=utcnow)


@dataclasses.dataclass(slots=True, kw_only=True)
class Order:
    order_id: str
    seller_id: str
    marketplace_id: str
    status: OrderStatus
    fulfillment_channel: Literal["MFN", "AFN"]
    is_prime: bool
    is_business: bool
    ship_service_level: str
    items: list[OrderItem]
    buyer: dict[str, str]
    address: dict[str, str]
    created: datetime
    last_updated: datetime
    earliest_ship: datetime
    latest_ship: datetime
    earliest_delivery: datetime
    latest_delivery: datetime
    packages: list[Package] = dataclasses.field(default_factory=list)
    # packageReferenceId -> items of confirmations accepted but not applied yet.
    pending_packages: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)

    def item(self, order_item_id: str) -> OrderItem | None:
        return next((i for i in self.items if i.order_item_id == order_item_id), None)


@dataclasses.dataclass(slots=True, kw_only=True)
class Document:
    """An S3 object behind a presigned URL: an uploaded feed, a processing report or a report."""

    document_id: str
    seller_id: str
    content_type: str
    secret: str
    created: datetime
    data: bytes | None = None
    compressed: bool = False


@dataclasses.dataclass(slots=True, kw_only=True)
class Feed:
    feed_id: str
    seller_id: str
    feed_type: str
    marketplace_ids: list[str]
    input_document_id: str
    created: datetime
    status: str = "IN_QUEUE"
    started: datetime | None = None
    ended: datetime | None = None
    result_document_id: str | None = None
    forced_fatal: bool = False


@dataclasses.dataclass(slots=True, kw_only=True)
class Report:
    report_id: str
    seller_id: str
    report_type: str
    marketplace_ids: list[str]
    created: datetime
    data_start: str | None = None
    data_end: str | None = None
    status: str = "IN_QUEUE"
    started: datetime | None = None
    ended: datetime | None = None
    document_id: str | None = None


class Ids:
    """Identifiers shaped like Amazon's, so clients that check formats are exercised."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._feed = itertools.count(50_000_000_001)
        self._report = itertools.count(60_000_000_001)

    def _digits(self, n: int) -> str:
        return "".join(self._rng.choice("0123456789") for _ in range(n))

    def order(self) -> str:
        return f"{self._digits(3)}-{self._digits(7)}-{self._digits(7)}"

    def order_item(self) -> str:
        return self._digits(14)

    def asin(self) -> str:
        return "B0" + "".join(self._rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(8))

    def feed(self) -> str:
        return str(next(self._feed))

    def report(self) -> str:
        return str(next(self._report))

    def document(self) -> str:
        return f"amzn1.tortuga.4.na.{uuid.UUID(int=self._rng.getrandbits(128))}"

    def secret(self) -> str:
        return uuid.uuid4().hex

    def seller(self) -> str:
        return "A" + "".join(self._rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(13))


@dataclasses.dataclass(slots=True)
class RequestRecord:
    at: str
    method: str
    path: str
    operation: str | None
    seller_id: str | None
    status: int


class State:
    """The mutable world. `reset()` returns it to the start: the default seller and nothing else."""

    def __init__(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.ids = Ids(self.rng)
        self.sellers: dict[str, Seller] = {}
        self.listings: dict[tuple[str, str], Listing] = {}
        self.orders: dict[str, Order] = {}
        self.documents: dict[str, Document] = {}
        self.feeds: dict[str, Feed] = {}
        self.reports: dict[str, Report] = {}
        self.pagination: dict[str, dict[str, Any]] = {}
        self.requests: collections.deque[RequestRecord] = collections.deque(maxlen=5000)
        self.reset()

    def reset(self) -> None:
        self.sellers.clear()
        self.listings.clear()
        self.orders.clear()
        self.documents.clear()
        self.feeds.clear()
        self.reports.clear()
        self.pagination.clear()
        self.requests.clear()
        self.add_seller(
            Seller(
                selling_partner_id=DEFAULT_SELLER_ID,
                region="NA",
                marketplace_ids=[DEFAULT_MARKETPLACE_ID],
                store_name="Sandbox Store",
            )
        )

    def add_seller(self, seller: Seller) -> Seller:
        self.sellers[seller.selling_partner_id] = seller
        return seller

    def listing(self, seller_id: str, sku: str) -> Listing | None:
        return self.listings.get((seller_id, sku))
