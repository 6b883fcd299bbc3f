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
import multiprocessing
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
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
FEED_PROCESSING_FINISHED = "FEED_PROCESSING_FINISHED"

SENT = Counter("stock_updates_sent_total", "SKU updates sent to Amazon", ["channel"])
OUTCOMES = Counter("stock_outcomes_total", "Amazon's answers and read-backs per SKU", ["outcome"])
DRIFT = Counter("stock_drift_total", "SKUs whose quantity on Amazon differed from the accepted one on read-back")


@dataclass(frozen=True, slots=True, kw_only=True)
class Tuning:
    """Timing of the sync. `speedup` > 1 only against a sped-up sandbox: every Amazon duration is divided by it."""

    speedup: float = 1.0
    coalesce: timedelta = timedelta(seconds=3)  # near real time: changes wait this long to ride in one push
    # Patches or a feed are chosen from the limiter's buckets; a push never patches more SKUs than this.
    patch_max_skus: int = 300
    feed_max_messages: int = domain.MAX_FEED_MESSAGES
    feeds_ahead: int = 2  # feeds of a push prepared while one waits for its createFeed token
    patch_concurrency: int = 10
    feed_poll: timedelta = timedelta(seconds=30)
    # FEED_PROCESSING_FINISHED: the application's SQS destination to subscribe each connection to (None: polling
    # only), and the fallback poll of a subscribed connection's feeds.
    feed_destination_id: str | None = None
    feed_poll_notified: timedelta = timedelta(minutes=5)
    subscribe_retry: timedelta = timedelta(minutes=30)
    apply_delay: timedelta = timedelta(seconds=60)  # Amazon's time from accepted to shown; then read back
    read_back_batch: int = 200  # at most this many getListingsItem per read-back run; more due: the report
    read_back_window: timedelta = timedelta(seconds=30)  # what getListingsItem may read in, before the report is used
    report_read_back_max: int = 250_000  # SKUs one report read-back compares
    report_poll: timedelta = timedelta(seconds=30)
    report_timeout: timedelta = timedelta(minutes=30)
    failure_backoff: timedelta = timedelta(minutes=1)
    max_concurrent_lanes: int = 8
    scheduler_max_sleep: timedelta = timedelta(seconds=30)

    def scaled(self, duration: timedelta) -> timedelta:
        return duration / self.speedup


def _checked_document(seller_id: str, batch: list[Wanted]) -> bytes:
    document = domain.feed_document(seller_id, batch)
    domain.validate_feed(document)
    return document


class _DocumentBuilder:
    """Builds and validates feed documents in a process of its own: about 4 s of CPU for 25,000 messages, which
    in this process would hold the GIL against the follow lane's outcomes and delay the next feed under a
    backlog. One worker, started on first use (spawn: this process has threads) and kept for the process."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def document(self, seller_id: str, batch: list[Wanted]) -> bytes:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, _checked_document, seller_id, batch)
        except BrokenProcessPool:
            self._pool = None  # the worker died (killed, out of memory): a new one for the next try
            raise


_BUILDER = _DocumentBuilder()


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
        if self._use_patches(client, len(changes.send)):
            await self._patch(run, connection, client, changes.send, tally)
        else:
            batches = self._feed_batches(changes.send)
            await self._subscribe(connection, client)
            await self._feeds(run, connection, client, batches)
            tally.count("in_feed", sum(len(b) for b in batches))
            async with self.pool.acquire() as conn, conn.transaction():
                await HISTORY.record(conn, run.id, tally)

    async def _subscribe(self, connection: sellers.Connection, client: spapi.SpApiClient) -> None:
        """The connection's FEED_PROCESSING_FINISHED subscription to our destination, made before its first feed.
        A failure is recorded and retried later; meanwhile its feeds are polled at the normal pace."""
        destination = self.tuning.feed_destination_id
        if destination is None:
            return
        async with self.pool.acquire() as conn:
            row = await repository.feed_subscription(conn, connection.connection_id)
        now = datetime.now(UTC)
        if row is not None and row["destination_id"] == destination:
            if row["subscription_id"] is not None or (row["next_attempt_at"] and row["next_attempt_at"] > now):
                return
        subscription_id: str | None = None
        error: str | None = None
        try:
            try:
                subscription = await client.notifications.create_subscription(
                    FEED_PROCESSING_FINISHED, destination, payload_version="1.0"
                )
            except spapi.SpApiError as exc:
                # 409: the seller has one already (an earlier try died before recording it, or another service's).
                if exc.status != 409:
                    raise
                found = await client.notifications.get_subscription(FEED_PROCESSING_FINISHED, payload_version="1.0")
                if found is None or found.destination_id != destination:
                    raise
                subscription = found
            subscription_id = subscription.subscription_id
        except spapi.SpApiError as exc:
            error = f"{exc.operation}: {type(exc).__name__} status={exc.status} codes={','.join(exc.codes)}"
            log.warning(
                "FEED_PROCESSING_FINISHED subscription failed; feeds are polled",
                extra={"connection_id": connection.connection_id, "error": error},
            )
        retry_at = None if error is None else now + self.tuning.scaled(self.tuning.subscribe_retry)
        async with self.pool.acquire() as conn:
            await repository.feed_subscribed(
                conn, connection.connection_id, destination, subscription_id, error, retry_at
            )

    async def _feed_poll(self, connection_id: str) -> timedelta:
        """getFeed's interval: a fallback's when FEED_PROCESSING_FINISHED tells this connection's feeds' ends."""
        if self.tuning.feed_destination_id is not None:
            async with self.pool.acquire() as conn:
                row = await repository.feed_subscription(conn, connection_id)
            if row is not None and row["subscription_id"] is not None:
                return self.tuning.scaled(self.tuning.feed_poll_notified)
        return self.tuning.scaled(self.tuning.feed_poll)

    def _use_patches(self, client: spapi.SpApiClient, skus: int) -> bool:
        """From the seller's buckets as they are now: patches when they go out within the coalescing window (or
        before the feed bucket's next slot), one or more feeds otherwise."""
        limiter = self.clients.limiter
        return domain.use_patches(
            skus,
            limiter.bucket(client.selling_partner_id, domain.PATCH_BUCKET),
            limiter.bucket(client.selling_partner_id, domain.FEED_BUCKET),
            window=self.tuning.coalesce.total_seconds(),
            max_skus=self.tuning.patch_max_skus,
        )

    def _feed_batches(self, send: list[Wanted]) -> list[list[Wanted]]:
        """≤ feed_max_messages SKUs per feed, one marketplace per feed."""
        by_marketplace: dict[str, list[Wanted]] = {}
        for wanted in send:
            by_marketplace.setdefault(wanted.marketplace_id, []).append(wanted)
        size = self.tuning.feed_max_messages
        return [skus[i : i + size] for skus in by_marketplace.values() for i in range(0, len(skus), size)]

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

    @dataclass(frozen=True, slots=True)
    class _Ready:
        """A feed whose intent is committed and whose document Amazon holds: only createFeed is left."""

        intent_id: int
        document_id: str
        marketplace_id: str
        messages: int

    async def _feeds(
        self, run: Run, connection: sellers.Connection, client: spapi.SpApiClient, batches: list[list[Wanted]]
    ) -> None:
        """Feeds one after another, the next ones prepared (built, validated, recorded, uploaded) while one waits
        for its createFeed token: under a backlog a full feed is ready whenever the feed bucket has one. Two are
        prepared at a time, so one's build (worker process) overlaps the other's writes and upload (here)."""
        ahead: deque[asyncio.Task[StockSync._Ready]] = deque()
        queued = iter(batches)

        def top_up() -> None:
            while len(ahead) < self.tuning.feeds_ahead and (batch := next(queued, None)) is not None:
                ahead.append(asyncio.ensure_future(self._prepare(run, connection, client, batch)))

        try:
            top_up()
            while ahead:
                ready = await ahead.popleft()
                top_up()
                await self._create_feed(connection.connection_id, client, ready)
        finally:
            # Their intents, if committed, are submitted by the next push with those very documents.
            for task in ahead:
                task.cancel()
            await asyncio.gather(*ahead, return_exceptions=True)

    async def _prepare(
        self, run: Run, connection: sellers.Connection, client: spapi.SpApiClient, batch: list[Wanted]
    ) -> StockSync._Ready:
        assert connection.selling_partner_id is not None
        seller = connection.selling_partner_id
        document = await _BUILDER.document(seller, batch)
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
        return await self._upload(client, intent_id, document, marketplace_id)

    async def _upload(
        self, client: spapi.SpApiClient, intent_id: int, document: bytes, marketplace_id: str
    ) -> StockSync._Ready:
        # Amazon keeps an uploaded document 2 days; its presigned URL (5 min) is used at once.
        target = await client.feeds.create_feed_document(spapi.JSON_CONTENT_TYPE, priority=spapi.Priority.NORMAL)
        await client.feeds.upload_feed_document(target, document, spapi.JSON_CONTENT_TYPE)
        return StockSync._Ready(intent_id, target.feed_document_id, marketplace_id, document.count(b'"messageId"'))

    async def _submit(
        self, conn_id: str, client: spapi.SpApiClient, intent_id: int, document: bytes, marketplace_id: str
    ) -> None:
        await self._create_feed(conn_id, client, await self._upload(client, intent_id, document, marketplace_id))

    async def _create_feed(self, conn_id: str, client: spapi.SpApiClient, ready: StockSync._Ready) -> None:
        # OutcomeUnknown (a timeout on createFeed) leaves the intent: the next push sends this document again.
        spec = spapi.CreateFeedSpecification(
            feed_type=spapi.JSON_LISTINGS_FEED,
            marketplace_ids=[ready.marketplace_id],
            input_feed_document_id=ready.document_id,
        )
        feed_id = await client.feeds.create_feed(spec, priority=spapi.Priority.NORMAL)
        SENT.labels("listings_feed").inc(ready.messages)
        poll_at = datetime.now(UTC) + await self._feed_poll(conn_id)
        async with self.pool.acquire() as conn, conn.transaction():
            await repository.feed_submitted(conn, ready.intent_id, feed_id, poll_at)
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
        await self._outcomes(conn, connection, [(wanted, accepted, issues)], channel, submission, verify_at, tally)

    async def _outcomes(
        self,
        conn: asyncpg.Connection,
        connection: sellers.Connection,
        verdicts: list[tuple[Wanted, bool, list[dict[str, Any]]]],
        channel: str,
        submission: str,
        verify_at: datetime,
        tally: Tally,
    ) -> None:
        """Amazon's answer per SKU (wanted, accepted, issues): recorded in two statements, then published."""
        accepted_rows: list[tuple[str, int, int]] = []
        rejected_rows: list[tuple[str, int, int, list[dict[str, Any]]]] = []
        for wanted, accepted, issues in verdicts:
            if accepted:
                accepted_rows.append((wanted.sku, wanted.quantity, wanted.handling))
                tally.success("accepted")
                continue
            errors = [i for i in issues if i["severity"] == "ERROR"] or [
                _issue(None, "ERROR", "Amazon did not accept the update")
            ]
            rejected_rows.append((wanted.sku, wanted.quantity, wanted.handling, errors))
            codes = ", ".join(sorted({e["code"] for e in errors}))
            tally.failure(wanted.sku, f"Amazon rejected the update ({channel} {submission}): {codes}")
        if accepted_rows:
            await repository.mark_accepted(conn, connection.connection_id, accepted_rows, verify_at)
        if rejected_rows:
            await repository.mark_rejected(conn, connection.connection_id, rejected_rows)
        for wanted, accepted, issues in verdicts:
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
        poll = await self._feed_poll(connection.connection_id)
        for row in feeds:
            feed = await client.feeds.get_feed(row["amazon_feed_id"])
            if not feed.finished:
                async with self.pool.acquire() as conn:
                    await repository.feed_poll_later(conn, row["id"], datetime.now(UTC) + poll)
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
        verdicts: list[tuple[Wanted, bool, list[dict[str, Any]]]] = []
        for message_id, item in sorted(items.items(), key=lambda kv: int(kv[0])):
            wanted = Wanted(
                sku=item["sku"], marketplace_id=item["marketplace_id"], quantity=item["quantity"],
                handling=item["handling"], as_of=datetime.fromisoformat(item["as_of"]), total=item["quantity"],
            )  # fmt: skip
            issues = per_message.get(int(message_id), [])
            if feed.processing_status != "DONE":
                issues = issues + general
            accepted = feed.processing_status == "DONE" and not any(i["severity"] == "ERROR" for i in issues)
            verdicts.append((wanted, accepted, issues))
        async with self.pool.acquire() as conn, conn.transaction():
            await self._outcomes(conn, connection, verdicts, "listings_feed", feed.feed_id, verify_at, tally)
            await repository.feed_finished(conn, row["id"], feed.processing_status)
            await HISTORY.record(conn, run.id, tally)
            await HISTORY.due(conn, connection.connection_id, Lane.FOLLOW, verify_at)
        self.published()

    # --- read back -------------------------------------------------------------------------------------

    async def _read_back(self, run: Run, connection: sellers.Connection) -> None:
        client = self.clients.for_connection(connection)
        async with self.pool.acquire() as conn:
            due = await repository.due_read_backs(conn, connection.connection_id, self.tuning.report_read_back_max)
        by_report = domain.use_report(
            len(due),
            self.clients.limiter.bucket(client.selling_partner_id, domain.READ_BUCKET),
            window=self.tuning.scaled(self.tuning.read_back_window).total_seconds(),
            max_reads=self.tuning.read_back_batch,
        )
        if by_report:
            results = await self._shown_by_report(client, due)
        else:
            results = await self._shown_by_item(client, due[: self.tuning.read_back_batch])
        await self._read_back_outcomes(run, connection, results, by_report=by_report)

    async def _shown_by_item(
        self, client: spapi.SpApiClient, due: list[asyncpg.Record]
    ) -> list[tuple[asyncpg.Record, int | Exception | None]]:
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

        return list(await asyncio.gather(*(one(r) for r in due)))

    async def _shown_by_report(
        self, client: spapi.SpApiClient, due: list[asyncpg.Record]
    ) -> list[tuple[asyncpg.Record, int | Exception | None]]:
        """One GET_MERCHANT_LISTINGS_ALL_DATA per marketplace, requested after every SKU here was due: what it
        shows is what Amazon applied by then. A SKU it does not list has no listing any more."""
        results: list[tuple[asyncpg.Record, int | Exception | None]] = []
        for marketplace_id in sorted({r["marketplace_id"] for r in due}):
            report_id = await client.reports.create_report(
                spapi.CreateReportSpecification(report_type=domain.LISTINGS_REPORT, marketplace_ids=[marketplace_id]),
                priority=spapi.Priority.LOW,
            )
            report = await client.reports.wait_for_report(
                report_id,
                poll_interval=self.tuning.scaled(self.tuning.report_poll).total_seconds(),
                timeout=self.tuning.scaled(self.tuning.report_timeout).total_seconds(),
            )
            if report.processing_status != "DONE" or report.report_document_id is None:
                raise RunFailed(f"Amazon ended the listings report for the read-back {report.processing_status}")
            document = await client.reports.get_report_document(report.report_document_id, priority=spapi.Priority.LOW)
            try:
                shown = domain.report_quantities(await client.reports.download_report_text(document))
            except (domain.ReportUnusable, spapi.ReportEncodingError) as exc:
                raise RunFailed(f"the listings report for the read-back is unusable: {exc}") from exc
            missing = LookupError("not in the listings report")
            results.extend(
                (row, shown[row["sku"]] if row["sku"] in shown else missing)
                for row in due
                if row["marketplace_id"] == marketplace_id
            )
        return results

    async def _read_back_outcomes(
        self,
        run: Run,
        connection: sellers.Connection,
        results: list[tuple[asyncpg.Record, int | Exception | None]],
        *,
        by_report: bool,
    ) -> None:
        tally = Tally()
        tally.count("read_by_report" if by_report else "read_by_item", len(results))
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
