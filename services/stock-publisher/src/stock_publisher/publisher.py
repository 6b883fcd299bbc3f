"""Sync runs: push what differs from what Amazon accepted, follow feeds to their end, read back what Amazon applied.

The synchistory lib runs the lanes under advisory locks (one replica per connection and lane), schedules them and
keeps the history; `StockSync` is what a run of stock-publisher does.

Guarantees:
- Only what differs from Amazon's last accepted (quantity, handling time) is sent; a rejected value is not sent
  again until it changes or an operator asks (stock-sync).
- No SKU has two updates in flight: a SKU inside a feed Amazon has not finished is left out of every push.
- A feed's document, hash and SKUs are committed before createFeed; a restart submits that very document again
  (never other content) if createFeed's answer was never recorded, and follows a recorded feed to its end.
- stock.published goes to the outbox in the transaction that records the outcome: never lost, never twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import asyncpg
import contracts
import httpx
import messaging
import sellers
import spapi
import synchistory
from prometheus_client import Counter
from synchistory import Run, RunFailed, Tally, Trigger

from stock_publisher import domain, repository
from stock_publisher.domain import Wanted
from stock_publisher.sync_history import HISTORY, Lane, StockTrigger

log = logging.getLogger(__name__)

SERVICE = "stock-publisher"
PUBLISHED = "stock.published"

SENT = Counter("stock_updates_sent_total", "SKU updates sent to Amazon", ["channel"])
OUTCOMES = Counter("stock_outcomes_total", "Amazon's answers and read-backs per SKU", ["outcome"])
DRIFT = Counter("stock_drift_total", "SKUs whose quantity on Amazon differed from the accepted one on read-back")


@dataclass(frozen=True, slots=True, kw_only=True)
class Tuning:
    """Timing of the sync. `speedup` > 1 only against a sped-up sandbox: every Amazon duration is divided by it."""

    speedup: float = 1.0
    coalesce: timedelta = timedelta(seconds=3)  # near real time: changes wait this long to ride in one push
    patch_max_skus: int = 20  # more SKUs than this in one push go as a JSON_LISTINGS_FEED
    feed_max_messages: int = domain.MAX_FEED_MESSAGES
    patch_concurrency: int = 10
    feed_poll: timedelta = timedelta(seconds=30)
    apply_delay: timedelta = timedelta(seconds=60)  # Amazon's time from accepted to shown; then read back
    read_back_batch: int = 200
    failure_backoff: timedelta = timedelta(minutes=1)
    max_concurrent_lanes: int = 8
    scheduler_max_sleep: timedelta = timedelta(seconds=30)

    def scaled(self, duration: timedelta) -> timedelta:
        return duration / self.speedup


def _issue(code: str | None, severity: str, message: str, attribute: str | None = None) -> dict[str, Any]:
    severity = severity if severity in ("ERROR", "WARNING", "INFO") else "ERROR"
    return {"code": code or "unknown", "severity": severity, "message": message[:1000], "attribute_name": attribute}


@dataclass(eq=False, kw_only=True)
class StockSync:
    """stock-publisher's `synchistory.SyncWork`."""

    pool: asyncpg.Pool
    clients: spapi.SpApiClients
    tuning: Tuning
    published: Callable[[], None] = lambda: None
    wake: Callable[[], None] = lambda: None

    def __post_init__(self) -> None:
        self.lanes = synchistory.Lanes(
            self.pool,
            HISTORY,
            self,
            backoff=self.tuning.scaled(self.tuning.failure_backoff),
            max_backoff=self.tuning.scaled(timedelta(minutes=30)),
        )

    # --- synchistory.SyncWork ----------------------------------------------------------------------

    async def context(self, conn: asyncpg.Connection, connection_id: str) -> sellers.Connection | None:
        connection = await sellers.connection(conn, connection_id)
        return connection if connection is not None and connection.callable else None

    async def due_run(
        self, conn: asyncpg.Connection, connection_id: str, lane: StrEnum, context: sellers.Connection
    ) -> Run | None:
        if lane == Lane.FOLLOW:
            if await repository.due_feeds(conn, connection_id):
                return await HISTORY.start_run(
                    conn, connection_id=connection_id, trigger=StockTrigger.FEED, lane=Lane.FOLLOW
                )
            if await repository.due_read_backs(conn, connection_id, 1):
                return await HISTORY.start_run(
                    conn, connection_id=connection_id, trigger=StockTrigger.READ_BACK, lane=Lane.FOLLOW
                )
            return None
        if not context.settings.stock_sync_enabled:
            return None
        at = await repository.next_push_at(conn, connection_id)
        if at is None or at > datetime.now(UTC):
            return None
        await repository.push_started(conn, connection_id)
        return await HISTORY.start_run(conn, connection_id=connection_id, trigger=Trigger.SCHEDULED, lane=Lane.PUSH)

    async def next_due(
        self, conn: asyncpg.Connection, connection_id: str, lane: StrEnum, context: sellers.Connection
    ) -> datetime | None:
        if lane == Lane.FOLLOW:
            times = [
                t
                for t in (
                    await repository.next_feed_poll(conn, connection_id),
                    await repository.next_read_back(conn, connection_id),
                )
                if t is not None
            ]
            return min(times) if times else None
        if not context.settings.stock_sync_enabled:
            return None
        return await repository.next_push_at(conn, connection_id)

    async def execute(self, run: Run, context: sellers.Connection) -> datetime:
        started = datetime.now(UTC)
        try:
            if run.lane == Lane.PUSH:
                await self._push(run, context)
            elif run.trigger == StockTrigger.FEED:
                await self._follow(run, context)
            else:
                await self._read_back(run, context)
        except (spapi.SpApiError, httpx.HTTPError) as exc:
            raise RunFailed(f"{type(exc).__name__}: {exc}") from exc
        return started

    async def finished(
        self,
        conn: asyncpg.Connection,
        run: Run,
        context: sellers.Connection,
        result: datetime | None,
        error: str | None,
    ) -> None:
        if run.lane != Lane.PUSH or run.trigger != Trigger.SCHEDULED:
            return
        now = datetime.now(UTC)
        if result is None:
            await repository.push_done(
                conn, run.connection_id, started=now, then=now + self.tuning.scaled(self.tuning.failure_backoff)
            )
            return
        then = domain.next_push(context.settings, result)
        await repository.push_done(conn, run.connection_id, started=result, then=then)

    # --- push ------------------------------------------------------------------------------------------

    async def _push(self, run: Run, connection: sellers.Connection) -> None:
        client = self.clients.for_connection(connection)
        async with self.pool.acquire() as conn:
            leftover = await repository.intents(conn, connection.connection_id)
        for intent in leftover:
            # createFeed's answer was never recorded: the same document again, never other content.
            await self._submit(conn_id=connection.connection_id, client=client, intent_id=intent["id"],
                               document=bytes(intent["document"]), marketplace_id=intent["marketplace_id"])  # fmt: skip
        force = run.trigger == StockTrigger.STOCK_SYNC
        changes = await self._changes(connection, run.record_keys, force=force)
        tally = Tally()
        tally.count("considered", len(changes.considered))
        tally.count("unchanged", changes.unchanged)
        tally.count("in_flight", changes.in_flight)
        if not changes.send:
            async with self.pool.acquire() as conn, conn.transaction():
                await HISTORY.record(conn, run.id, tally)
            return
        if len(changes.send) <= self.tuning.patch_max_skus:
            await self._patch(run, connection, client, changes.send, tally)
        else:
            for start in range(0, len(changes.send), self.tuning.feed_max_messages):
                batch = changes.send[start : start + self.tuning.feed_max_messages]
                await self._feed(run, connection, client, batch)
                tally.count("in_feed", len(batch))
            async with self.pool.acquire() as conn, conn.transaction():
                await HISTORY.record(conn, run.id, tally)

    @dataclass(slots=True)
    class _Changes:
        considered: list[Wanted]
        send: list[Wanted]
        unchanged: int
        in_flight: int

    async def _changes(
        self, connection: sellers.Connection, skus: list[str] | None, *, force: bool
    ) -> StockSync._Changes:
        settings = connection.settings
        async with self.pool.acquire() as conn:
            rows = await repository.wanted_rows(conn, connection.connection_id, settings.stock_warehouse_ids, skus)
            states = await repository.sku_states(conn, connection.connection_id)
        considered = [
            Wanted(
                sku=r["sku"],
                marketplace_id=r["marketplace_id"],
                quantity=domain.amazon_quantity(r["total"], settings),
                handling=r["handling_time_days"] or settings.handling_time_days,
                as_of=r["as_of"],
                total=r["total"],
            )
            for r in rows
        ]
        send: list[Wanted] = []
        unchanged = in_flight = 0
        for wanted in considered:
            state = states.get(wanted.sku)
            if state is not None and state["in_feed"] is not None:
                in_flight += 1
                continue
            value = (wanted.quantity, wanted.handling)
            if (
                not force
                and state is not None
                and (
                    (state["accepted_quantity"], state["accepted_handling"]) == value
                    or (state["rejected_quantity"], state["rejected_handling"]) == value
                )
            ):
                unchanged += 1
                continue
            send.append(wanted)
        send.sort(key=lambda w: w.sku)
        return StockSync._Changes(considered, send, unchanged, in_flight)

    async def _patch(
        self, run: Run, connection: sellers.Connection, client: spapi.SpApiClient, send: list[Wanted], tally: Tally
    ) -> None:
        gate = asyncio.Semaphore(self.tuning.patch_concurrency)

        async def one(wanted: Wanted) -> tuple[Wanted, spapi.ListingsItemSubmissionResponse | Exception]:
            async with gate:
                try:
                    answer = await client.listings.patch_listings_item(
                        wanted.sku,
                        domain.patch_request(wanted),
                        marketplace_ids=[wanted.marketplace_id],
                        priority=spapi.Priority.NORMAL,
                    )
                    return wanted, answer
                except spapi.InvalidInput as exc:
                    return wanted, exc

        results = await asyncio.gather(*(one(w) for w in send))
        verify_at = datetime.now(UTC) + self.tuning.scaled(self.tuning.apply_delay)
        async with self.pool.acquire() as conn, conn.transaction():
            for wanted, answer in results:
                SENT.labels("listings_api").inc()
                if isinstance(answer, Exception):
                    issues = [_issue(e.code, "ERROR", e.message) for e in answer.errors] or [
                        _issue(str(answer.status), "ERROR", "Amazon refused the request")
                    ]
                    submission = "none"
                    accepted = False
                else:
                    issues = [
                        _issue(i.code, i.severity, i.message, (i.attribute_names or [None])[0])
                        for i in answer.issues or []
                    ]
                    submission = answer.submission_id
                    accepted = answer.accepted
                await repository.mark_sent(
                    conn, connection.connection_id,
                    [(wanted.sku, wanted.quantity, wanted.handling, wanted.as_of, submission, None)], "listings_api",
                )  # fmt: skip
                await self._outcome(
                    conn, connection, wanted, "listings_api", submission, accepted, issues, verify_at, tally
                )
            await HISTORY.record(conn, run.id, tally)
        self.published()
        await self._follow_soon(connection.connection_id, verify_at)

    async def _feed(
        self, run: Run, connection: sellers.Connection, client: spapi.SpApiClient, batch: list[Wanted]
    ) -> None:
        assert connection.selling_partner_id is not None
        document = domain.feed_document(connection.selling_partner_id, batch)
        domain.validate_feed(document)
        items = {
            str(i): {"sku": w.sku, "quantity": w.quantity, "handling": w.handling, "as_of": w.as_of.isoformat(),
                     "marketplace_id": w.marketplace_id}
            for i, w in enumerate(batch, start=1)
        }  # fmt: skip
        marketplace_id = batch[0].marketplace_id
        async with self.pool.acquire() as conn, conn.transaction():
            intent_id = await repository.feed_intent(
                conn, connection.connection_id, run.id, content_hash=domain.content_hash(document),
                document=document, items=items, marketplace_id=marketplace_id,
            )  # fmt: skip
            await repository.mark_sent(
                conn, connection.connection_id,
                [(w.sku, w.quantity, w.handling, w.as_of, "pending", intent_id) for w in batch], "listings_feed",
            )  # fmt: skip
        await self._submit(connection.connection_id, client, intent_id, document, marketplace_id)

    async def _submit(
        self, conn_id: str, client: spapi.SpApiClient, intent_id: int, document: bytes, marketplace_id: str
    ) -> None:
        # OutcomeUnknown (a timeout on createFeed) leaves the intent: the next push sends this document again.
        feed_id = await client.feeds.submit_feed(
            spapi.JSON_LISTINGS_FEED,
            document,
            content_type=spapi.JSON_CONTENT_TYPE,
            marketplace_ids=[marketplace_id],
            priority=spapi.Priority.NORMAL,
        )
        SENT.labels("listings_feed").inc(document.count(b'"messageId"'))
        poll_at = datetime.now(UTC) + self.tuning.scaled(self.tuning.feed_poll)
        async with self.pool.acquire() as conn, conn.transaction():
            await repository.feed_submitted(conn, intent_id, feed_id, poll_at)
            await HISTORY.due(conn, conn_id, Lane.FOLLOW, poll_at)
        self.wake()

    async def _follow_soon(self, connection_id: str, at: datetime) -> None:
        async with self.pool.acquire() as conn:
            await HISTORY.due(conn, connection_id, Lane.FOLLOW, at)
        self.wake()

    async def _outcome(
        self,
        conn: asyncpg.Connection,
        connection: sellers.Connection,
        wanted: Wanted,
        channel: str,
        submission: str,
        accepted: bool,
        issues: list[dict[str, Any]],
        verify_at: datetime,
        tally: Tally,
    ) -> None:
        errors = [i for i in issues if i["severity"] == "ERROR"]
        if accepted:
            await repository.mark_accepted(
                conn, connection.connection_id, [(wanted.sku, wanted.quantity, wanted.handling)], verify_at
            )
            tally.success("accepted")
        else:
            errors = errors or [_issue(None, "ERROR", "Amazon did not accept the update")]
            await repository.mark_rejected(
                conn, connection.connection_id, [(wanted.sku, wanted.quantity, wanted.handling, errors)]
            )
            codes = ", ".join(sorted({e["code"] for e in errors}))
            tally.failure(wanted.sku, f"Amazon rejected the update ({channel} {submission}): {codes}")
        outcome = "accepted" if accepted else "rejected"
        OUTCOMES.labels(outcome).inc()
        await self._publish(
            conn, connection, wanted, channel, submission, outcome=outcome, issues=issues if not accepted else []
        )

    async def _publish(
        self,
        conn: asyncpg.Connection,
        connection: sellers.Connection,
        wanted: Wanted,
        channel: str,
        submission: str,
        *,
        outcome: str,
        issues: list[dict[str, Any]],
        verification: str | None = None,
        shown: int | None = None,
    ) -> None:
        payload = contracts.StockPublishedV1(
            connection_id=connection.connection_id,
            sku=wanted.sku,
            marketplace_ids=[wanted.marketplace_id],
            quantity=wanted.quantity,
            handling_time_days=wanted.handling,
            as_of=wanted.as_of,
            channel=channel,  # type: ignore[arg-type]
            submission_id=submission,
            outcome=outcome,  # type: ignore[arg-type]
            issues=[contracts.ListingIssueV1.model_validate(i) for i in issues],
            verification=verification,  # type: ignore[arg-type]
            amazon_quantity=shown,
            published_at=datetime.now(UTC),
        )
        revision = f"{submission}:{wanted.quantity}:{wanted.handling}:{verification or outcome}"
        await messaging.add(conn, contracts.new_event(PUBLISHED, payload, source=SERVICE, revision=revision))

    # --- follow feeds ------------------------------------------------------------------------------------

    async def _follow(self, run: Run, connection: sellers.Connection) -> None:
        client = self.clients.for_connection(connection)
        async with self.pool.acquire() as conn:
            feeds = await repository.due_feeds(conn, connection.connection_id)
        done_any = False
        for row in feeds:
            feed = await client.feeds.get_feed(row["amazon_feed_id"])
            if not feed.finished:
                async with self.pool.acquire() as conn:
                    await repository.feed_poll_later(
                        conn, row["id"], datetime.now(UTC) + self.tuning.scaled(self.tuning.feed_poll)
                    )
                continue
            report = await client.feeds.get_processing_report(feed) if feed.result_feed_document_id else None
            await self._feed_outcome(run, connection, row, feed, report)
            done_any = True
        if done_any:
            # SKUs that changed while inside the feed were left out of pushes meanwhile: push now.
            async with self.pool.acquire() as conn, conn.transaction():
                if domain.near_real_time(connection.settings):
                    await repository.push_due_by(conn, connection.connection_id, datetime.now(UTC))
                    await HISTORY.due(conn, connection.connection_id, Lane.PUSH, None)
            self.wake()

    async def _feed_outcome(
        self,
        run: Run,
        connection: sellers.Connection,
        row: asyncpg.Record,
        feed: spapi.Feed,
        report: spapi.ProcessingReport | None,
    ) -> None:
        items: dict[str, dict[str, Any]] = json.loads(row["items"])
        per_message: dict[int, list[dict[str, Any]]] = {}
        general: list[dict[str, Any]] = []
        for issue in report.issues if report else []:
            entry = _issue(issue.code, issue.severity, issue.message, issue.attribute_name)
            if issue.message_id is not None:
                per_message.setdefault(issue.message_id, []).append(entry)
            else:
                general.append(entry)
        if feed.processing_status != "DONE" and not general:
            general = [_issue(feed.processing_status, "ERROR", f"the feed ended {feed.processing_status}")]
        verify_at = datetime.now(UTC) + self.tuning.scaled(self.tuning.apply_delay)
        tally = Tally()
        async with self.pool.acquire() as conn, conn.transaction():
            for message_id, item in sorted(items.items(), key=lambda kv: int(kv[0])):
                wanted = Wanted(
                    sku=item["sku"], marketplace_id=item["marketplace_id"], quantity=item["quantity"],
                    handling=item["handling"], as_of=datetime.fromisoformat(item["as_of"]), total=item["quantity"],
                )  # fmt: skip
                issues = per_message.get(int(message_id), [])
                if feed.processing_status != "DONE":
                    issues = issues + general
                accepted = feed.processing_status == "DONE" and not any(i["severity"] == "ERROR" for i in issues)
                await self._outcome(
                    conn, connection, wanted, "listings_feed", feed.feed_id, accepted, issues, verify_at, tally
                )
            await repository.feed_finished(conn, row["id"], feed.processing_status)
            await HISTORY.record(conn, run.id, tally)
            await HISTORY.due(conn, connection.connection_id, Lane.FOLLOW, verify_at)
        self.published()

    # --- read back -------------------------------------------------------------------------------------

    async def _read_back(self, run: Run, connection: sellers.Connection) -> None:
        client = self.clients.for_connection(connection)
        async with self.pool.acquire() as conn:
            due = await repository.due_read_backs(conn, connection.connection_id, self.tuning.read_back_batch)
        gate = asyncio.Semaphore(self.tuning.patch_concurrency)

        async def one(row: asyncpg.Record) -> tuple[asyncpg.Record, int | Exception | None]:
            async with gate:
                try:
                    item = await client.listings.get_listings_item(
                        row["sku"],
                        marketplace_ids=[row["marketplace_id"]],
                        included_data=("fulfillmentAvailability",),
                        priority=spapi.Priority.LOW,
                    )
                except spapi.NotFound as exc:
                    return row, exc
                shown = next(
                    (
                        f.quantity
                        for f in item.fulfillment_availability or []
                        if f.fulfillment_channel_code == "DEFAULT"
                    ),
                    None,
                )
                return row, shown

        results = await asyncio.gather(*(one(r) for r in due))
        tally = Tally()
        drifted = False
        async with self.pool.acquire() as conn, conn.transaction():
            for row, shown in results:
                if isinstance(shown, Exception):
                    tally.failure(row["sku"], "read-back: Amazon has no listing for the SKU any more")
                    await repository.read_back(conn, connection.connection_id, row["sku"], None, applied=False)
                    continue
                applied = shown == row["accepted_quantity"]
                await repository.read_back(conn, connection.connection_id, row["sku"], shown, applied=applied)
                wanted = Wanted(
                    sku=row["sku"], marketplace_id=row["marketplace_id"], quantity=row["sent_quantity"],
                    handling=row["sent_handling"], as_of=row["sent_as_of"], total=row["sent_quantity"],
                )  # fmt: skip
                verification = "applied" if applied else "drifted"
                OUTCOMES.labels(verification).inc()
                if applied:
                    tally.success("applied")
                else:
                    DRIFT.inc()
                    drifted = True
                    tally.success("drifted")
                await self._publish(
                    conn, connection, wanted, row["sent_channel"], row["submission_id"], outcome="accepted",
                    issues=[], verification=verification, shown=shown,
                )  # fmt: skip
            await HISTORY.record(conn, run.id, tally)
            if drifted:
                # Re-sent by the next push: what Amazon shows is not what it accepted.
                await repository.push_due_by(conn, connection.connection_id, datetime.now(UTC))
                await HISTORY.due(conn, connection.connection_id, Lane.PUSH, None)
        self.published()
        if drifted:
            self.wake()
