"""getFeeds: the seller's feeds by type, marketplace, status and creation window, newest first, in pages.

As feeds_2021-06-30.json says: feedTypes or nextToken is required, nextToken comes alone, createdSince defaults
to 90 days ago (feeds are kept that long), createdUntil to now, pageSize 1..100 (default 10). The request and
the reply are held to that model by the gateway like every operation.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

from spapi_sandbox.errors import ApiError
from spapi_sandbox.feeds import render_feed
from spapi_sandbox.state import iso, parse_iso, utcnow
from spapi_sandbox.world import Call, Reply, World

RETENTION = timedelta(days=90)
DEFAULT_PAGE_SIZE = 10
_FILTERS = ("feedTypes", "marketplaceIds", "pageSize", "processingStatuses", "createdSince", "createdUntil")


def _token(filters: dict[str, Any], offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"f": filters, "o": offset}).encode()).decode()


def _untoken(token: str) -> tuple[dict[str, Any], int]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        return dict(decoded["f"]), int(decoded["o"])
    except (ValueError, KeyError, TypeError):
        raise ApiError.invalid_input("Invalid nextToken.") from None


async def get_feeds(world: World, call: Call) -> Reply:
    params = dict(call.params)
    if "nextToken" in params:
        if any(name in params for name in _FILTERS):
            raise ApiError.invalid_input("nextToken must be the only parameter.")
        filters, offset = _untoken(params["nextToken"])
    elif "feedTypes" in params:
        filters, offset = {k: v for k, v in params.items() if k in _FILTERS}, 0
    else:
        raise ApiError.invalid_input("Either feedTypes or nextToken is required.")
    now = utcnow()
    since = parse_iso(filters["createdSince"]) if "createdSince" in filters else now - RETENTION
    until = parse_iso(filters["createdUntil"]) if "createdUntil" in filters else now
    if since > until:
        raise ApiError.invalid_input("createdSince must be before createdUntil.")
    types = set(filters["feedTypes"])
    marketplaces = set(filters.get("marketplaceIds") or ())
    statuses = set(filters.get("processingStatuses") or ())
    matching = sorted(
        (
            feed
            for feed in world.state.feeds.values()
            if feed.seller_id == call.seller_id
            and feed.feed_type in types
            and since <= feed.created <= until
            and feed.created >= now - RETENTION
            and (not marketplaces or marketplaces & set(feed.marketplace_ids))
            and (not statuses or feed.status in statuses)
        ),
        key=lambda feed: (feed.created, feed.feed_id),
        reverse=True,
    )
    size = int(filters.get("pageSize", DEFAULT_PAGE_SIZE))
    page = matching[offset : offset + size]
    body: dict[str, Any] = {"feeds": [render_feed(feed) for feed in page]}
    if offset + size < len(matching):
        # The window is pinned, so later feeds do not shift the pages.
        body["nextToken"] = _token({**filters, "createdSince": iso(since), "createdUntil": iso(until)}, offset + size)
    return Reply(200, body)
