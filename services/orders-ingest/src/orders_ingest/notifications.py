"""ORDER_CHANGE intake: check a notification cheaply, then queue its order for an immediate fetch.

The notification is never trusted for order data: it only says which order to read again from Amazon, so a forged
one can at most cause one extra (rate-limited) getOrder. Checks stop at the first failure, cheapest first, and none
of them calls Amazon; a refused notification is counted by reason and dropped (the scheduled poll is the safety net).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

import asyncpg
import jsonschema
from prometheus_client import Counter

from orders_ingest import repository

log = logging.getLogger(__name__)

NOTIFICATIONS = Counter("orders_ingest_notifications_total", "ORDER_CHANGE notifications received", ["outcome"])

# Amazon's order ids are 3-7-7 digits; anything else cannot name an order of ours and is not worth a getOrder.
ORDER_ID = re.compile(r"\d{3}-\d{7}-\d{7}")
# An ORDER_CHANGE document is a few KB; SQS allows 256 KB. Larger ones are refused before parsing.
MAX_BYTES = 64 * 1024


class Outcome(StrEnum):
    queued = "queued"
    duplicate = "duplicate"
    too_large = "too_large"
    not_json = "not_json"
    invalid = "invalid"
    foreign_application = "foreign_application"
    bad_order_id = "bad_order_id"
    no_connection = "no_connection"
    over_bound = "over_bound"

    @property
    def dropped(self) -> bool:
        return self not in (Outcome.queued, Outcome.duplicate)

    @property
    def malformed(self) -> bool:
        """Not a usable ORDER_CHANGE at all (as opposed to a good one we decline): kept on the dead-letter queue."""
        return self in (Outcome.too_large, Outcome.not_json, Outcome.invalid, Outcome.bad_order_id)


for _outcome in Outcome:
    NOTIFICATIONS.labels(_outcome.value)  # every reason shows on /metrics at 0, so an alert can watch it


def order_change_schema() -> dict[str, Any]:
    """Amazon's notification_OrderChange.json, shipped with the package (a copy of ../shared/spapi-models)."""
    text = resources.files("orders_ingest").joinpath("schemas/notification_OrderChange.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    # Where the document failed and the rule it broke, never a value from it; empty unless dropped as invalid.
    problem: str = ""


class NotificationIntake:
    """`accept(body)` decides one notification; it raises only when its own effect could not be committed."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        application_id: str | None = None,
        max_pending_per_connection: int = 1000,
        queued: Callable[[], None] = lambda: None,
    ) -> None:
        self._pool = pool
        self._application_id = application_id
        self._max_pending = max_pending_per_connection
        self._queued = queued
        self._validator = jsonschema.Draft7Validator(order_change_schema())

    def check(self, body: str | bytes) -> tuple[Verdict, dict[str, Any] | None]:
        """The first reason to drop `body`, or `queued` with the parsed document; no I/O."""
        if len(body) > MAX_BYTES:
            return Verdict(Outcome.too_large), None
        try:
            document = json.loads(body)
        except ValueError:
            return Verdict(Outcome.not_json), None
        # Lazily: the first error ends validation, so a huge array of broken items costs one error, not thousands.
        error = next(self._validator.iter_errors(document), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(document)"
            return Verdict(Outcome.invalid, f"{where}: fails '{error.validator}'"), None
        if document.get("NotificationType") != "ORDER_CHANGE":
            return Verdict(Outcome.invalid, "NotificationType: only ORDER_CHANGE is accepted"), None
        payload = document["Payload"].get("OrderChangeNotification")
        if not isinstance(payload, dict) or not payload.get("SellerId"):
            return Verdict(Outcome.invalid, "Payload/OrderChangeNotification/SellerId: is required"), None
        if self._application_id and document["NotificationMetadata"].get("ApplicationId") != self._application_id:
            return Verdict(Outcome.foreign_application), None
        if not isinstance(order_id := payload.get("AmazonOrderId"), str) or not ORDER_ID.fullmatch(order_id):
            return Verdict(Outcome.bad_order_id), None
        return Verdict(Outcome.queued), document

    async def accept(self, body: str | bytes) -> Verdict:
        verdict, document = self.check(body)
        if document is None:
            return self._counted(verdict)
        payload = document["Payload"]["OrderChangeNotification"]
        seller, order_id = str(payload["SellerId"]), str(payload["AmazonOrderId"])
        marketplace = (payload.get("Summary") or {}).get("MarketplaceId")
        notification_id = str(document["NotificationMetadata"]["NotificationId"])
        async with self._pool.acquire() as conn, conn.transaction():
            candidates = await repository.connections_of_seller(conn, seller)
            # Normally one live connection per seller and region; should there be more, each fetches the order
            # and the seller-wide (seller, order, revision) dedupe still publishes it once.
            chosen = [c for c in candidates if marketplace in c.marketplace_ids] or candidates
            if not chosen:
                log.info("ORDER_CHANGE for a seller without an active connection", extra={"seller_id": seller})
                return self._counted(Verdict(Outcome.no_connection))
            room = [
                c.connection_id
                for c in chosen
                if await repository.pending_notifications(conn, c.connection_id, self._max_pending) < self._max_pending
            ]
            if not room:
                log.warning("ORDER_CHANGE dropped: too many pending for the connection", extra={"seller_id": seller})
                return self._counted(Verdict(Outcome.over_bound))
            fresh = [c for c in room if await repository.add_notification(conn, notification_id, c, order_id)]
        if fresh:
            self._queued()
        return self._counted(Verdict(Outcome.queued if fresh else Outcome.duplicate))

    @staticmethod
    def _counted(verdict: Verdict) -> Verdict:
        NOTIFICATIONS.labels(verdict.outcome.value).inc()
        return verdict
