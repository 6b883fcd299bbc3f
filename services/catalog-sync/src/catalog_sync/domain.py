"""What a listing looks like on listing.updated and fba.inventory, and when it counts as changed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import marketplaces
import spapi
from contracts import FbaInventoryV1, ListingUpdatedV1, listing_key

from catalog_sync.listings_report import ReportRow

# Fields of listing.updated that are bookkeeping of the event, not the listing: never part of "changed".
_NOT_CONTENT = ("revision", "updated_at")
TITLE_MAX = 500


@dataclass(frozen=True, slots=True)
class Variation:
    parent_sku: str | None = None
    theme: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Details:
    """What getListingsItem adds to the report row: the variation family, Amazon's status and change time."""

    variation: Variation
    status: str | None
    last_updated: datetime | None


def details_of(item: spapi.ListingsItem, marketplace_id: str) -> Details:
    variation = Variation()
    for group in item.relationships or []:
        if group.get("marketplaceId") not in (None, marketplace_id):
            continue
        for relation in group.get("relationships") or []:
            if relation.get("type") != "VARIATION":
                continue
            theme = relation.get("variationTheme") or {}
            names = [str(n) for n in theme.get("attributes") or []]
            parents = relation.get("parentSkus") or []
            if parents:
                variation = Variation(
                    parent_sku=str(parents[0]),
                    theme=theme.get("theme"),
                    attributes=_values(item, names, marketplace_id),
                )
            elif variation.parent_sku is None and theme.get("theme"):
                variation = Variation(theme=theme.get("theme"))
    status: str | None = None
    last_updated: datetime | None = None
    for summary in item.summaries or []:
        if summary.marketplace_id != marketplace_id:
            continue
        states = summary.status or []
        status = "BUYABLE" if "BUYABLE" in states else "DISCOVERABLE" if "DISCOVERABLE" in states else None
        raw = (summary.model_extra or {}).get("lastUpdatedDate")
        if isinstance(raw, str):
            try:
                last_updated = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                last_updated = None
    return Details(variation=variation, status=status, last_updated=last_updated)


def _values(item: spapi.ListingsItem, names: list[str], marketplace_id: str) -> dict[str, str]:
    """Attribute values of the theme's attributes: the entry for this marketplace, else the first."""
    values: dict[str, str] = {}
    for name in names:
        entries = (item.attributes or {}).get(name) or []
        chosen = next((e for e in entries if isinstance(e, dict) and e.get("marketplace_id") == marketplace_id), None)
        chosen = chosen or next((e for e in entries if isinstance(e, dict)), None)
        if chosen is not None and chosen.get("value") not in (None, ""):
            values[name] = str(chosen["value"])[:TITLE_MAX]
    return values


def listing_content(
    connection_id: str, marketplace_id: str, row: ReportRow, details: Details | None, item_id: str | None
) -> dict[str, Any]:
    """The published fields of listing.updated except revision and updated_at, as JSON values."""
    variation = details.variation if details else Variation()
    status = row.status
    if details and details.status and row.status == "BUYABLE":
        status = details.status  # Amazon's own word where the flat file only says "Active"
    currency = marketplaces.marketplace(marketplace_id).currency
    opened = row.opened
    return {
        "connection_id": connection_id,
        "sku": row.sku,
        "listing_key": listing_key(connection_id, row.sku),
        "marketplace_id": marketplace_id,
        "asin": row.asin,
        "title": row.title[:TITLE_MAX] if row.title else None,
        "status": status,
        "condition": row.condition,
        "price": {"amount": format(row.price, "f"), "currency": currency} if row.price is not None else None,
        "fulfillment_channel": row.fulfillment_channel,
        "mfn_quantity": row.quantity if row.fulfillment_channel == "MFN" else None,
        "parent_sku": variation.parent_sku,
        "variation_theme": variation.theme,
        "variation_attributes": dict(variation.attributes),
        "item_id": item_id or row.sku,
        "amazon_last_updated": (details.last_updated if details and details.last_updated else opened),
    }


def content_hash(content: dict[str, Any]) -> str:
    visible = {k: v for k, v in content.items() if k not in _NOT_CONTENT}
    text = json.dumps(visible, sort_keys=True, default=_json_default, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def listing_updated(content: dict[str, Any], *, revision: int, now: datetime) -> ListingUpdatedV1:
    return ListingUpdatedV1.model_validate({**content, "revision": revision, "updated_at": now})


def fba_content(
    connection_id: str, marketplace_id: str, summary: spapi.InventorySummary, now: datetime
) -> dict[str, Any]:
    d = summary.inventory_details or spapi.InventoryDetails()
    numbers = {
        "fulfillable": d.fulfillable_quantity or 0,
        "inbound_working": d.inbound_working_quantity or 0,
        "inbound_shipped": d.inbound_shipped_quantity or 0,
        "inbound_receiving": d.inbound_receiving_quantity or 0,
        "reserved": (d.reserved_quantity.total_reserved_quantity if d.reserved_quantity else 0) or 0,
        "unfulfillable": (d.unfulfillable_quantity.total_unfulfillable_quantity if d.unfulfillable_quantity else 0)
        or 0,
        "researching": (d.researching_quantity.total_researching_quantity if d.researching_quantity else 0) or 0,
    }
    sku = summary.seller_sku or ""
    return {
        "connection_id": connection_id,
        "sku": sku,
        "listing_key": listing_key(connection_id, sku),
        "marketplace_id": marketplace_id,
        **numbers,
        "total": summary.total_quantity if summary.total_quantity is not None else sum(numbers.values()),
    }


def fba_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def fba_inventory(content: dict[str, Any], as_of: datetime) -> FbaInventoryV1:
    return FbaInventoryV1.model_validate({**content, "as_of": as_of})
