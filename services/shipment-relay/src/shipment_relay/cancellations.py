"""Seller cancellations: order.completed `cancelled` -> one XML POST_ORDER_ACKNOWLEDGEMENT_DATA feed per connection
and round (StatusCode Failure; per item when some of the order shipped), followed to its end, its XML processing
report read per message; each outcome published on shipment.confirmed (with no packages; see ShipmentConfirmedV1).
Also the flag for a `completed` order with items never confirmed."""

from __future__ import annotations

import asyncio
import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import contracts
import messaging
import sellers
import servicekit
import spapi
import synchistory
from contracts import CloudEvent, OrderCompletedV1
from contracts.shipments import cancellation_shipment_id, completion_shipment_id
from prometheus_client import Counter

from shipment_relay import repository
from shipment_relay.sync_history import Lane, RelayTrigger, write_run

log = logging.getLogger(__name__)

SERVICE = "shipment-relay"
FEED_TYPE = "POST_ORDER_ACKNOWLEDGEMENT_DATA"
CONTENT_TYPE = "text/xml; charset=UTF-8"
DEFAULT_REASON = "NoInventory"
CANCELLATIONS = Counter("shipment_cancellations_total", "Seller cancellations decided, by outcome", ["outcome"])
RECONCILED = Counter(
    "shipment_cancellation_feeds_reconciled_total",
    "createFeed calls without an answer looked up with getFeeds, by finding (found, not_taken, ambiguous)",
    ["finding"],
)
# Amazon's createdTime against our clock, and how long after the send a feed it took can have been created.
_CLOCK_MARGIN = timedelta(minutes=1)
_SEND_WINDOW = timedelta(minutes=5)
UNCONFIRMED = Counter(
    "shipment_completed_unconfirmed_total", "order.completed `completed` with items never confirmed to Amazon"
)


async def shipped_so_far(conn: asyncpg.Connection, amazon_order_id: str) -> dict[str, int]:
    """Units per item that orders-ingest saw shipped or that we confirmed (or may have), whichever is more."""
    ours: dict[str, int] = {}
    for row in await repository.in_flight(conn, amazon_order_id, "", -1):
        for item in json.loads(row["items"]):
            if item.get("order_item_id"):
                ours[item["order_item_id"]] = ours.get(item["order_item_id"], 0) + item["quantity"]
    seen = await repository.order_items(conn, amazon_order_id)
    return {i: max(ours.get(i, 0), seen[i].quantity_shipped if i in seen else 0) for i in {*ours, *seen}}


async def order_completed(
    event: CloudEvent[OrderCompletedV1],
    *,
    pool: asyncpg.Pool,
    queued: Callable[[], None],
    published: Callable[[], None] = lambda: None,
) -> None:
    data = event.data
    flagged, inserted, state = False, False, ""
    async with pool.acquire() as conn, conn.transaction():
        items = await repository.order_items(conn, data.amazon_order_id)
        shipped = await shipped_so_far(conn, data.amazon_order_id)
        left = {i: k.quantity_ordered - shipped.get(i, 0) for i, k in items.items()}
        left = {i: q for i, q in left.items() if q > 0}
        if data.status == "completed":
            if left:
                await _flag_unconfirmed(conn, event, left)
            flagged = bool(left)
        else:
            inserted, state = await _record_cancellation(conn, data, items, shipped, left)
    if inserted and state == "pending":
        queued()
    elif inserted or flagged:
        published()


async def _record_cancellation(
    conn: asyncpg.Connection,
    data: OrderCompletedV1,
    items: dict[str, Any],
    shipped: dict[str, int],
    left: dict[str, int],
) -> tuple[bool, str]:
    """Queues the seller cancellation (or rejects it at once when nothing is left); (inserted, state)."""
    whole = not any(shipped.values())
    state, result = "pending", None
    if items and not left:
        state, result = "rejected", "every item is shipped; nothing left to cancel"
    lines = None if whole else [{"order_item_id": i, "quantity": q} for i, q in sorted(left.items())]
    inserted = await conn.fetchval(
        """
        INSERT INTO cancellations (amazon_order_id, connection_id, marketplace_id, cancel_reason, items, state,
                                   result, decided_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $6 = 'rejected' THEN now() END)
        ON CONFLICT DO NOTHING RETURNING true
        """,
        data.amazon_order_id, data.connection_id, data.marketplace_id,
        data.cancel_reason or DEFAULT_REASON, json.dumps(lines) if lines is not None else None, state, result,
    )  # fmt: skip
    if inserted and state == "rejected":
        await publish_outcome(conn, data.amazon_order_id)
    return bool(inserted), state


async def _flag_unconfirmed(
    conn: asyncpg.Connection, event: CloudEvent[OrderCompletedV1], left: dict[str, int]
) -> None:
    """order.completed `completed` with units never confirmed: a failed record in sync history and a
    shipment.confirmed carrying them, in the caller's transaction."""
    data = event.data
    UNCONFIRMED.inc()
    log.warning(
        "order completed with items never confirmed to Amazon",
        extra={"amazon_order_id": data.amazon_order_id, "order_item_ids": sorted(left)},
    )
    tally = synchistory.Tally()
    tally.failure(
        data.amazon_order_id,
        f"completed with items never confirmed: {len(left)} items, {sum(left.values())} units "
        f"({', '.join(sorted(left))})",
    )
    await write_run(
        conn, connection_id=data.connection_id, lane=Lane.COMPLETION, trigger=RelayTrigger.EVENT,
        tally=tally, keys=[data.amazon_order_id],
    )  # fmt: skip
    flag = contracts.ShipmentConfirmedV1(
        shipment_id=completion_shipment_id(data.amazon_order_id),
        connection_id=data.connection_id,
        marketplace_id=data.marketplace_id,
        amazon_order_id=data.amazon_order_id,
        packages=[],
        confirmed_at=datetime.now(UTC),
        unconfirmed=contracts.UnconfirmedCompletionV1(
            items=[contracts.UnconfirmedItemV1(order_item_id=i, quantity=q) for i, q in sorted(left.items())]
        ),
    )
    # One flag per order.completed event: a redelivery of it re-emits the same id, which consumers drop.
    revision = f"completion-unconfirmed-{event.id}"
    await messaging.add(conn, contracts.new_event("shipment.confirmed", flag, source=SERVICE, revision=revision))


def feed_document(seller_id: str, rows: list[asyncpg.Record]) -> bytes:
    root = ET.Element("AmazonEnvelope")
    root.set("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
    root.set("xsi:noNamespaceSchemaLocation", "amzn-envelope.xsd")
    header = ET.SubElement(root, "Header")
    ET.SubElement(header, "DocumentVersion").text = "1.01"
    ET.SubElement(header, "MerchantIdentifier").text = seller_id
    ET.SubElement(root, "MessageType").text = "OrderAcknowledgement"
    for message_id, row in enumerate(rows, start=1):
        message = ET.SubElement(root, "Message")
        ET.SubElement(message, "MessageID").text = str(message_id)
        ack = ET.SubElement(message, "OrderAcknowledgement")
        ET.SubElement(ack, "AmazonOrderID").text = row["amazon_order_id"]
        ET.SubElement(ack, "StatusCode").text = "Failure"
        for line in json.loads(row["items"]) if row["items"] else []:
            item = ET.SubElement(ack, "Item")
            ET.SubElement(item, "AmazonOrderItemCode").text = line["order_item_id"]
            ET.SubElement(item, "CancelReason").text = row["cancel_reason"]
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def report_errors(report: bytes) -> dict[int, str]:
    """MessageID -> ResultDescription of every Result in error of an XML processing report."""
    return {message_id: description for message_id, (_, description) in report_results(report).items()}


def report_results(report: bytes) -> dict[int, tuple[str | None, str]]:
    """MessageID -> (ResultMessageCode, ResultDescription) of every Result in error of an XML processing report."""
    root = ET.fromstring(report)  # noqa: S314 - Amazon's own report; ElementTree expands no external entities
    errors = {}
    for result in root.iter("Result"):
        if (result.findtext("ResultCode") or "").strip() == "Error":
            message_id = (result.findtext("MessageID") or "0").strip()
            code = (result.findtext("ResultMessageCode") or "").strip() or None
            errors[int(message_id)] = (code, (result.findtext("ResultDescription") or "error").strip())
    return errors


async def publish_outcome(conn: asyncpg.Connection, amazon_order_id: str) -> None:
    """shipment.confirmed with the cancellation's outcome, in the caller's transaction (the one deciding it)."""
    row = await conn.fetchrow("SELECT * FROM cancellations WHERE amazon_order_id = $1", amazon_order_id)
    items = json.loads(row["items"]) if row["items"] else None
    rejected = row["state"] == "rejected"
    amazon_said = rejected and row["feed_id"] is not None
    decided_at = row["decided_at"] or datetime.now(UTC)
    data = contracts.ShipmentConfirmedV1(
        shipment_id=cancellation_shipment_id(amazon_order_id),
        connection_id=row["connection_id"],
        marketplace_id=row["marketplace_id"],
        amazon_order_id=amazon_order_id,
        packages=[],
        confirmed_at=decided_at,
        cancellation=contracts.SellerCancellationV1(
            scope="order" if items is None else "items",
            outcome="rejected" if rejected else "accepted",
            cancel_reason=row["cancel_reason"],
            items=None if items is None else [contracts.CancelledItemV1(**i) for i in items],
            feed_id=row["feed_id"],
            reason=(row["result"] or "rejected")[:500] if rejected and not amazon_said else None,
            errors=[contracts.CancellationErrorV1(code=row["result_code"], message=(row["result"] or "error")[:500])]
            if amazon_said
            else [],
        ),
    )
    revision = f"cancellation-{row['state']}-{row['feed_id'] or 'no-feed'}-{decided_at.isoformat()}"
    await messaging.add(conn, contracts.new_event("shipment.confirmed", data, source=SERVICE, revision=revision))


def _trigger(rows: list[asyncpg.Record]) -> RelayTrigger:
    # A cancellation an operator's resync put back to pending keeps the time it was decided before.
    return RelayTrigger.RETRY if any(r["decided_at"] is not None for r in rows) else RelayTrigger.EVENT


# Per schema, so several deployments (and tests) sharing a database do not wait for each other.
_LEADER_LOCK = "hashtextextended('shipment-canceller|' || current_schema(), 0)"


class Canceller:
    name = "shipment-canceller"

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        clients: spapi.SpApiClients,
        speedup: float,
        published: Callable[[], None] = lambda: None,
    ) -> None:
        """`published`: after outcomes went to the outbox (shipment.confirmed)."""
        self._pool = pool
        self._published = published
        self._clients = clients
        self._poll = timedelta(seconds=30) / speedup
        # How long after a createFeed without an answer Amazon's feed list is trusted to show its feed.
        self._settle = timedelta(seconds=60) / speedup
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._outage = servicekit.Outage(self.name)

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.pass_as_leader()
                self._outage.recovered()
                wait = self._poll.total_seconds()
            except Exception as exc:
                if not servicekit.is_outage(exc):
                    raise
                wait = self._outage.failed(exc)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), max(wait, 0.01))
            except TimeoutError:
                pass

    async def pass_as_leader(self) -> bool:
        """submit and follow, by one replica at a time: two would send the same pending cancellations twice."""
        async with self._pool.acquire() as conn:
            if not await conn.fetchval(f"SELECT pg_try_advisory_lock({_LEADER_LOCK})"):
                return False
            try:
                await self.reconcile()
                await self.submit()
                await self.follow()
            finally:
                await conn.execute(f"SELECT pg_advisory_unlock({_LEADER_LOCK})")
        return True

    async def submit(self) -> None:
        """One feed per connection for all its pending cancellations."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT * FROM cancellations WHERE state = 'pending' AND sent_at IS NULL ORDER BY created_at"
            )
        by_connection: dict[str, list[asyncpg.Record]] = {}
        for row in rows:
            by_connection.setdefault(row["connection_id"], []).append(row)
        for connection_id, batch in by_connection.items():
            async with self._pool.acquire() as conn:
                connection = await sellers.connection(conn, connection_id)
            if connection is None or not connection.callable or connection.selling_partner_id is None:
                continue
            client = self._clients.for_connection(connection)
            document = feed_document(connection.selling_partner_id, batch)
            marketplaces = sorted({r["marketplace_id"] for r in batch})
            # Committed before createFeed: a lost answer (or a crash) is then looked up, never sent again blindly.
            async with self._pool.acquire() as conn, conn.transaction():
                for message_id, row in enumerate(batch, start=1):
                    await conn.execute(
                        "UPDATE cancellations SET sent_at = now(), message_id = $2 WHERE amazon_order_id = $1",
                        row["amazon_order_id"], message_id,
                    )  # fmt: skip
            try:
                feed_id = await client.feeds.submit_feed(
                    FEED_TYPE, document, content_type=CONTENT_TYPE, marketplace_ids=marketplaces
                )
            except spapi.OutcomeUnknown as error:
                await self._mark(None, batch, "unknown", result=str(error)[:500])
                tally = synchistory.Tally()
                for row in batch:
                    tally.failure(row["amazon_order_id"], f"createFeed answer unknown ({type(error).__name__})")
                async with self._pool.acquire() as conn:
                    await write_run(
                        conn, connection_id=connection_id, lane=Lane.CANCEL, trigger=_trigger(batch), tally=tally,
                        keys=[r["amazon_order_id"] for r in batch], error="createFeed: outcome unknown",
                    )  # fmt: skip
                continue
            except spapi.SpApiError as error:
                log.warning("createFeed failed; cancellations stay pending", extra={"error": type(error).__name__})
                async with self._pool.acquire() as conn:
                    await conn.execute(
                        "UPDATE cancellations SET sent_at = NULL WHERE amazon_order_id = ANY($1)",
                        [r["amazon_order_id"] for r in batch],
                    )
                continue
            async with self._pool.acquire() as conn, conn.transaction():
                for message_id, row in enumerate(batch, start=1):
                    await conn.execute(
                        "UPDATE cancellations SET state = 'submitted', feed_id = $2, message_id = $3 "
                        "WHERE amazon_order_id = $1",
                        row["amazon_order_id"], feed_id, message_id,
                    )  # fmt: skip

    async def reconcile(self) -> None:
        """Cancellations whose createFeed got no answer (or whose pass died while it was out): once Amazon's feed
        list can be trusted to show the feed, getFeeds for POST_ORDER_ACKNOWLEDGEMENT_DATA around the send.

        Amazon's Feed names no input document, so a feed is ours when it is the only one of the type, seller and
        marketplaces created in the window that is not already one of ours: then it is followed as if createFeed
        had answered. None: createFeed was not taken, the cancellations are sent again. Several (the seller's own
        tool sent one too, or two answers were lost): they stay unknown for an operator."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT * FROM cancellations WHERE sent_at IS NOT NULL AND state IN ('unknown', 'pending') "
                "AND sent_at < now() - $1::interval ORDER BY message_id",
                self._settle,
            )
            ours = await conn.fetch("SELECT feed_id FROM cancellations WHERE feed_id IS NOT NULL")
        known = {r["feed_id"] for r in ours}
        batches: dict[tuple[str, datetime], list[asyncpg.Record]] = {}
        for row in rows:
            batches.setdefault((row["connection_id"], row["sent_at"]), []).append(row)
        for (connection_id, sent_at), batch in batches.items():
            async with self._pool.acquire() as conn:
                connection = await sellers.connection(conn, connection_id)
            if connection is None or not connection.callable:
                continue
            client = self._clients.for_connection(connection)
            try:
                feeds = await client.feeds.get_feeds(
                    feed_types=[FEED_TYPE],
                    created_since=sent_at - _CLOCK_MARGIN,
                    created_until=min(sent_at + _SEND_WINDOW, datetime.now(UTC)),
                    marketplace_ids=sorted({r["marketplace_id"] for r in batch}),
                )
            except spapi.SpApiError as error:
                log.warning("getFeeds failed; cancellations stay unknown", extra={"error": type(error).__name__})
                continue
            candidates = [f for f in feeds if f.feed_id not in known]
            keys = [r["amazon_order_id"] for r in batch]
            async with self._pool.acquire() as conn, conn.transaction():
                if len(candidates) == 1:
                    known.add(candidates[0].feed_id)
                    await conn.execute(
                        "UPDATE cancellations SET state = 'submitted', feed_id = $2, result = NULL "
                        "WHERE amazon_order_id = ANY($1)",
                        keys, candidates[0].feed_id,
                    )  # fmt: skip
                    RECONCILED.labels("found").inc()
                elif not candidates:
                    await conn.execute(
                        "UPDATE cancellations SET state = 'pending', sent_at = NULL, message_id = NULL, result = NULL "
                        "WHERE amazon_order_id = ANY($1)",
                        keys,
                    )  # fmt: skip
                    RECONCILED.labels("not_taken").inc()
                else:
                    await conn.execute(
                        "UPDATE cancellations SET state = 'unknown', sent_at = NULL, result = $2 "
                        "WHERE amazon_order_id = ANY($1)",
                        keys, f"createFeed answer lost; {len(candidates)} feeds of the type in its window: "
                        f"{', '.join(sorted(f.feed_id for f in candidates))[:400]}",
                    )  # fmt: skip
                    RECONCILED.labels("ambiguous").inc()

    async def follow(self) -> None:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM cancellations WHERE state = 'submitted' ORDER BY created_at")
        by_feed: dict[tuple[str, str], list[asyncpg.Record]] = {}
        for row in rows:
            by_feed.setdefault((row["connection_id"], row["feed_id"]), []).append(row)
        for (connection_id, feed_id), batch in by_feed.items():
            async with self._pool.acquire() as conn:
                connection = await sellers.connection(conn, connection_id)
            if connection is None or not connection.callable:
                continue
            client = self._clients.for_connection(connection)
            try:
                feed = await client.feeds.get_feed(feed_id)
                if not feed.finished:
                    continue
                report = await client.feeds.get_result_document(feed)
            except spapi.SpApiError:
                continue
            errors = report_results(report) if report else {}
            tally = synchistory.Tally()
            tally.count("messages", len(batch))
            async with self._pool.acquire() as conn, conn.transaction():
                for row in batch:
                    if feed.processing_status != "DONE":
                        code, why = errors.get(0) or (None, f"the feed ended {feed.processing_status}")
                        await self._mark(conn, [row], "rejected", result=why, code=code)
                        tally.failure(row["amazon_order_id"], why)
                    elif row["message_id"] in errors:
                        code, why = errors[row["message_id"]]
                        await self._mark(conn, [row], "rejected", result=why, code=code)
                        tally.failure(row["amazon_order_id"], why)
                    else:
                        await self._mark(conn, [row], "accepted", result=None)
                        tally.success("cancelled")
                    await publish_outcome(conn, row["amazon_order_id"])
                # The feed's run is written with the decisions it counts, in one transaction.
                await write_run(
                    conn, connection_id=connection_id, lane=Lane.CANCEL, trigger=_trigger(batch), tally=tally,
                    keys=[r["amazon_order_id"] for r in batch],
                    error=None if feed.processing_status == "DONE" else f"feed {feed.processing_status}",
                )  # fmt: skip
            self._published()

    async def _mark(
        self,
        conn: asyncpg.Connection | None,
        rows: list[asyncpg.Record],
        state: str,
        *,
        result: str | None,
        code: str | None = None,
    ) -> None:
        if conn is None:
            async with self._pool.acquire() as own:
                await self._mark(own, rows, state, result=result, code=code)
            return
        for row in rows:
            await conn.execute(
                "UPDATE cancellations SET state = $2, result = $3, result_code = $4, decided_at = now() "
                "WHERE amazon_order_id = $1",
                row["amazon_order_id"], state, result, code,
            )  # fmt: skip
            if state in ("accepted", "rejected"):
                CANCELLATIONS.labels(state).inc()


async def cancellation_view(conn: asyncpg.Connection, amazon_order_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM cancellations WHERE amazon_order_id = $1", amazon_order_id)
    if row is None:
        return None
    view = dict(row)
    view["items"] = json.loads(row["items"]) if row["items"] else None
    return view
