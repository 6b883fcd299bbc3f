"""Stock rules and Amazon's formats: the quantity Amazon is told, when a push is due, patches and feed documents.

Pure functions; the sync engine and the handlers call them with what they read from PostgreSQL.
"""

from __future__ import annotations

import csv
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
from spapi.feeds import feed_limit_key
from spapi.operations import GET_LISTINGS_ITEM, PATCH_LISTINGS_ITEM

# Amazon's offer-only product type: a quantity update needs no product data.
PRODUCT_TYPE = "PRODUCT"
FULFILLMENT_AVAILABILITY = "/attributes/fulfillment_availability"
MAX_FEED_MESSAGES = 25_000
# The limiter's buckets a push draws on: patchListingsItem per SKU, createFeed per JSON_LISTINGS_FEED.
PATCH_BUCKET = PATCH_LISTINGS_ITEM.key
FEED_BUCKET = feed_limit_key(spapi.JSON_LISTINGS_FEED)
READ_BUCKET = GET_LISTINGS_ITEM.key
# The seller's listings with the quantity Amazon shows (spapi-brief.md §10): the read-back of many SKUs at once.
LISTINGS_REPORT = "GET_MERCHANT_LISTINGS_ALL_DATA"


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


def patch_seconds(bucket: spapi.TokenBucket, skus: int) -> float:
    """Seconds until `bucket` has given a token to each of `skus` calls arriving now (after those waiting)."""
    return max(0.0, (bucket.waiting + skus - bucket.available()) / bucket.rate)


def use_patches(skus: int, patch: spapi.TokenBucket, feed: spapi.TokenBucket, *, window: float, max_skus: int) -> bool:
    """patchListingsItem for `skus` SKUs, or one JSON_LISTINGS_FEED: chosen from the buckets as they are now.

    Patches when the seller's patch bucket can send them all within `window` (the coalescing window), or sooner
    than the feed bucket's next submission slot (an empty feed bucket waits up to a minute at Amazon's rate, the
    patches go at the bucket's rate meanwhile); a feed otherwise. Never more than `max_skus` patches per push.
    """
    if skus > max_skus:
        return False
    needed = patch_seconds(patch, skus)
    return needed <= window or needed < feed.wait_estimate(spapi.Priority.NORMAL)


def use_report(due: int, read: spapi.TokenBucket, *, window: float, max_reads: int) -> bool:
    """Read back `due` SKUs from the listings report rather than getListingsItem: when more are due than the
    seller's getListingsItem bucket can read within `window` seconds (what it has now plus its refill, less the
    calls already waiting), or than `max_reads`, the most one read-back run sends."""
    can_read = max(0.0, read.available() + read.rate * window - read.waiting)
    return due > min(can_read, max_reads)


class ReportUnusable(ValueError):
    """A listings report without its header or without the seller-sku or quantity column."""


def report_quantities(text: str) -> dict[str, int | None]:
    """SKU -> the quantity GET_MERCHANT_LISTINGS_ALL_DATA shows (None: empty, as for FBA). Columns are found by
    name (they differ by marketplace); a row whose quantity is not a number reads as None."""
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ReportUnusable("the listings report has no header line")
    # QUOTE_NONE: Amazon's flat files are not CSV-quoted.
    reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = [h.strip().lstrip("\ufeff").lower() for h in next(reader)]
    if "seller-sku" not in header or "quantity" not in header:
        raise ReportUnusable("the listings report has no seller-sku or no quantity column")
    sku_at, quantity_at = header.index("seller-sku"), header.index("quantity")
    shown: dict[str, int | None] = {}
    for fields in reader:
        if len(fields) <= max(sku_at, quantity_at) or not fields[sku_at].strip():
            continue
        value = fields[quantity_at].strip()
        shown[fields[sku_at].strip()] = int(value) if value.isdigit() else None
    return shown


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
    """A JSON_LISTINGS_FEED of one PATCH message per SKU. One message goes through the typed model (it fixes the
    wire shape); the others are that shape with their own values, 10 times faster for 25,000 messages."""
    if not 1 <= len(batch) <= MAX_FEED_MESSAGES:
        raise ValueError(f"a feed holds 1..{MAX_FEED_MESSAGES} messages, not {len(batch)}")
    template = spapi.ListingsFeedMessage(
        message_id=1,
        sku=batch[0].sku,
        operation_type="PATCH",
        product_type=PRODUCT_TYPE,
        patches=[spapi.ListingsPatch(op="merge", path=FULFILLMENT_AVAILABILITY, value=availability(0, 1))],
    ).to_wire()
    patch = template["patches"][0]
    messages = [
        {
            **template,
            "messageId": index,
            "sku": wanted.sku,
            "patches": [{**patch, "value": availability(wanted.quantity, wanted.handling)}],
        }
        for index, wanted in enumerate(batch, start=1)
    ]
    header = spapi.ListingsFeedHeader(seller_id=seller_id).to_wire()
    return json.dumps({"header": header, "messages": messages}, separators=(",", ":")).encode("utf-8")


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
