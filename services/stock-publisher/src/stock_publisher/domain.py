"""Stock rules and Amazon's formats: the quantity Amazon is told, when a push is due, patches and feed documents.

Pure functions; the sync engine and the handlers call them with what they read from PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import spapi
from contracts import ConnectionSettingsV1, DailyStockCadence, IntervalStockCadence

# Amazon's offer-only product type: a quantity update needs no product data.
PRODUCT_TYPE = "PRODUCT"
FULFILLMENT_AVAILABILITY = "/attributes/fulfillment_availability"
MAX_FEED_MESSAGES = 25_000


@dataclass(frozen=True, slots=True)
class Wanted:
    """What Amazon should show for one MFN SKU of a connection."""

    sku: str
    marketplace_id: str
    quantity: int
    handling: int
    as_of: datetime
    total: int  # the sum over the stock warehouses before the rules


def amazon_quantity(total: int, settings: ConnectionSettingsV1) -> int:
    """Sum over the stock warehouses, floored at 0, then buffer, cap and the zero-below threshold, in that order."""
    quantity = max(0, total) - settings.stock_buffer
    quantity = max(0, quantity)
    if settings.stock_cap is not None:
        quantity = min(quantity, settings.stock_cap)
    if quantity < settings.stock_zero_below:
        quantity = 0
    return quantity


def next_push(settings: ConnectionSettingsV1, now: datetime) -> datetime | None:
    """When the next scheduled push is due; None in near-real-time mode (changes make it due)."""
    cadence = settings.stock_cadence
    if isinstance(cadence, IntervalStockCadence):
        return now + timedelta(minutes=cadence.every_minutes)
    if isinstance(cadence, DailyStockCadence):
        zone = ZoneInfo(cadence.timezone)
        local = now.astimezone(zone)
        hour, minute = (int(part) for part in cadence.local_time.split(":"))
        at = datetime.combine(local.date(), time(hour, minute), zone)
        if at <= local:
            at = datetime.combine(local.date() + timedelta(days=1), time(hour, minute), zone)
        return at
    return None


def near_real_time(settings: ConnectionSettingsV1) -> bool:
    return settings.stock_cadence.mode == "near_real_time"


def availability(quantity: int, handling: int) -> list[dict[str, Any]]:
    # merge, not replace: replace would drop what we do not send (restock date, ...); DEFAULT is merchant-fulfilled.
    return [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity, "lead_time_to_ship_max_days": handling}]


def patch_request(wanted: Wanted) -> spapi.ListingsItemPatchRequest:
    return spapi.ListingsItemPatchRequest(
        product_type=PRODUCT_TYPE,
        patches=[
            spapi.ListingsPatch(
                op="merge", path=FULFILLMENT_AVAILABILITY, value=availability(wanted.quantity, wanted.handling)
            )
        ],
    )


def feed_document(seller_id: str, batch: list[Wanted]) -> bytes:
    feed = spapi.ListingsFeed(
        header=spapi.ListingsFeedHeader(seller_id=seller_id),
        messages=[
            spapi.ListingsFeedMessage(
                message_id=index,
                sku=wanted.sku,
                operation_type="PATCH",
                product_type=PRODUCT_TYPE,
                patches=[
                    spapi.ListingsPatch(
                        op="merge", path=FULFILLMENT_AVAILABILITY, value=availability(wanted.quantity, wanted.handling)
                    )
                ],
            )
            for index, wanted in enumerate(batch, start=1)
        ],
    )
    return feed.to_bytes()


class InvalidFeed(Exception):
    """A feed document that breaks listings-feed-schema-v2.json; never uploaded."""


@cache
def _feed_validator() -> jsonschema.Draft7Validator:
    schema = json.loads(resources.files("stock_publisher").joinpath("schemas/listings-feed-schema-v2.json").read_text())
    return jsonschema.Draft7Validator(schema)


def validate_feed(document: bytes) -> None:
    error = jsonschema.exceptions.best_match(_feed_validator().iter_errors(json.loads(document)))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        raise InvalidFeed(f"feed document breaks listings-feed-schema-v2 at {where or '(root)'}: {error.validator}")


def content_hash(document: bytes) -> str:
    return hashlib.sha256(document).hexdigest()
