"""ORDER_CHANGE intake: validate against Amazon's schema, queue the order for an immediate fetch.

The notification is never trusted for order data: it only says which order to read again from Amazon, so an
unauthenticated or forged notification can at most cause one extra (rate-limited) getOrder.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from importlib import resources
from typing import Any

import asyncpg
import jsonschema
from prometheus_client import Counter

from orders_ingest import repository

log = logging.getLogger(__name__)

NOTIFICATIONS = Counter("orders_ingest_notifications_total", "ORDER_CHANGE notifications received", ["outcome"])


def order_change_schema() -> dict[str, Any]:
    """Amazon's notification_OrderChange.json, shipped with the package (a copy of ../shared/spapi-models)."""
    text = resources.files("orders_ingest").joinpath("schemas/notification_OrderChange.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


class InvalidNotification(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class NotificationIntake:
    def __init__(self, pool: asyncpg.Pool, *, queued: Callable[[], None] = lambda: None) -> None:
        self._pool = pool
        self._queued = queued
        self._validator = jsonschema.Draft7Validator(order_change_schema())

    def validate(self, document: Any) -> dict[str, Any]:
        """Returns the OrderChangeNotification; raises InvalidNotification naming paths, never values."""
        problems = [
            f"{'/'.join(str(p) for p in e.absolute_path) or '(document)'}: fails '{e.validator}'"
            for e in sorted(self._validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
        ]
        if problems:
            raise InvalidNotification(problems[:10])
        if document.get("NotificationType") != "ORDER_CHANGE":
            raise InvalidNotification(["NotificationType: only ORDER_CHANGE is accepted"])
        payload = document["Payload"].get("OrderChangeNotification")
        if not isinstance(payload, dict) or not payload.get("AmazonOrderId") or not payload.get("SellerId"):
            raise InvalidNotification(["Payload/OrderChangeNotification: SellerId and AmazonOrderId are required"])
        return payload

    async def accept(self, document: Any) -> dict[str, Any]:
        try:
            payload = self.validate(document)
        except InvalidNotification:
            NOTIFICATIONS.labels("invalid").inc()
            raise
        seller, order_id = str(payload["SellerId"]), str(payload["AmazonOrderId"])
        marketplace = (payload.get("Summary") or {}).get("MarketplaceId")
        notification_id = str(document["NotificationMetadata"]["NotificationId"])
        async with self._pool.acquire() as conn, conn.transaction():
            candidates = await repository.connections_of_seller(conn, seller)
            # Normally one live connection per seller and region; should there be more, each fetches the order
            # and the seller-wide (seller, order, revision) dedupe still publishes it once.
            chosen = [c for c in candidates if marketplace in c.marketplace_ids] or candidates
            if not chosen:
                NOTIFICATIONS.labels("no_connection").inc()
                log.info("ORDER_CHANGE for a seller without an active connection", extra={"seller_id": seller})
                return {"status": "ignored", "reason": "no active connection for this seller"}
            fresh = [
                c.connection_id
                for c in chosen
                if await repository.add_notification(conn, notification_id, c.connection_id, order_id)
            ]
        NOTIFICATIONS.labels("queued" if fresh else "duplicate").inc()
        if fresh:
            self._queued()
        return {"status": "queued" if fresh else "duplicate", "connection_ids": [c.connection_id for c in chosen]}
