"""Reads FEED_PROCESSING_FINISHED from the SQS queue of the application's destination: a finished feed is followed
at once instead of at its next getFeed poll.

A notification only says "poll this feed now": the outcome still comes from getFeed and the processing report, so a
forged or stale one costs at most one getFeed. Long polls of up to 10 messages; each message is deleted once
decided (the feed made due, or dropped: not JSON, another notification type, a feed that is not one of ours or
already followed, counted by reason). When PostgreSQL cannot take the effect the message stays and SQS delivers
it again after its visibility timeout. An outage of SQS or PostgreSQL is ridden out with servicekit's policy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from prometheus_client import Counter
from servicekit import LongPollWorker
from spapi.sqs_queue import QueueSettings, SqsQueue, sqs_client

from stock_publisher import repository
from stock_publisher.sync_history import HISTORY, Lane

log = logging.getLogger(__name__)

__all__ = ["FeedNotifications", "QueueSettings", "finished_feed", "sqs_client"]

NOTIFICATIONS = Counter(
    "stock_feed_notifications_total", "FEED_PROCESSING_FINISHED messages read from SQS", ["outcome"]
)
for _outcome in ("followed", "not_ours", "not_json", "invalid"):
    NOTIFICATIONS.labels(_outcome)

MAX_BYTES = 64 * 1024  # a FEED_PROCESSING_FINISHED document is well under 1 KB


def finished_feed(body: str) -> tuple[str, str] | str:
    """(seller id, feed id) of a FEED_PROCESSING_FINISHED document, or why it is dropped."""
    if len(body) > MAX_BYTES:
        return "invalid"
    try:
        document = json.loads(body)
    except ValueError:
        return "not_json"
    if not isinstance(document, dict) or document.get("notificationType") != "FEED_PROCESSING_FINISHED":
        return "invalid"
    payload = (document.get("payload") or {}).get("feedProcessingFinishedNotification")
    if not isinstance(payload, dict):
        return "invalid"
    seller, feed_id = payload.get("sellerId"), payload.get("feedId")
    if not isinstance(seller, str) or not seller or not isinstance(feed_id, str) or not feed_id.isdigit():
        return "invalid"
    return seller, feed_id


class FeedNotifications:
    name = "feed-notifications"

    def __init__(self, client: Any, settings: QueueSettings, pool: asyncpg.Pool, wake: Callable[[], None]) -> None:
        self._queue = SqsQueue(client, settings)
        self._pool = pool
        self._wake = wake
        self._worker = LongPollWorker(self.name, self._queue.receive, self._handle)

    async def run(self) -> None:
        await self._worker.run()

    async def stop(self) -> None:
        """A long poll in flight is abandoned: its messages come back after their visibility timeout."""
        await self._worker.stop()

    async def _handle(self, messages: list[dict[str, Any]]) -> int:
        """Decides each message of one poll; returns how many were deleted."""
        done: list[str] = []
        woken = False
        try:
            for message in messages:
                outcome = await self._decide(message.get("Body", ""))
                NOTIFICATIONS.labels(outcome).inc()
                woken = woken or outcome == "followed"
                done.append(message["ReceiptHandle"])
        finally:
            if woken:
                self._wake()
            await self._queue.delete(done)
        return len(done)

    async def _decide(self, body: str) -> str:
        found = finished_feed(body)
        if isinstance(found, str):
            log.warning("FEED_PROCESSING_FINISHED message dropped: %s", found)
            return found
        seller, feed_id = found
        async with self._pool.acquire() as conn, conn.transaction():
            connection_ids = await repository.feed_notified(conn, seller, feed_id)
            for connection_id in connection_ids:
                await HISTORY.due(conn, connection_id, Lane.FOLLOW, None)
        # Not ours (another service's feed of the seller) or already followed by a poll: nothing to do.
        return "followed" if connection_ids else "not_ours"
