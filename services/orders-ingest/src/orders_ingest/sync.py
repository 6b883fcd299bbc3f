"""Sync runs: read orders from Amazon, publish each (seller, order, revision) once through the outbox, record history.

Guarantees:
- An event goes to the outbox in the same transaction as its `published_events` row, so a crash at any point
  either publishes it later (outbox) or re-reads it on the next run; never twice, never lost.
- A run holds its connection's advisory lock (one lane for polls and requested runs, one for notifications),
  so several replicas never poll one connection at once. A run left `running` by a dead process is closed as
  failed by the next lock holder, and requested runs are requeued.
- The watermark moves only after a run read every page; per-record failures do not hold it back (they are
  in the run's history and a resync retries them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import messaging
import servicekit
import spapi
from contracts import ContractError, OrderStatus, new_event

from orders_ingest import domain, repository
from orders_ingest.domain import Connection, Decision, InvalidOrder

log = logging.getLogger(__name__)

SERVICE = "orders-ingest"
RECEIVED = "order.received"
CANCELLED = "order.cancelled"
# Amazon: the Before bound of searchOrders must be at least two minutes before now.
AMAZON_VISIBILITY_LAG = timedelta(minutes=2)


@dataclass(frozen=True, slots=True, kw_only=True)
class Tuning:
    """Timing of the sync. `speedup` > 1 only against a sped-up sandbox: every duration is divided by it."""

    speedup: float = 1.0
    overlap: timedelta = timedelta(minutes=5)
    initial_lookback: timedelta = timedelta(days=3)
    page_size: int = 100
    max_concurrent_lanes: int = 4
    tick_seconds: float = 1.0
    notification_batch: int = 50
    notification_retry: timedelta = timedelta(seconds=30)  # doubled on each failed attempt
    notification_attempts: int = 5
    failure_backoff: timedelta = timedelta(minutes=1)
    keep_succeeded: timedelta = timedelta(days=30)
    keep_failed: timedelta = timedelta(days=60)
    retention_every: timedelta = timedelta(hours=1)

    def scaled(self, duration: timedelta) -> timedelta:
        return duration / self.speedup


@dataclass(slots=True)
class Counts:
    fetched: int = 0
    published: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[tuple[str | None, str]] = field(default_factory=list)


class Stopping(Exception):
    """The process is shutting down between two pages of a run."""


class SyncEngine:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        clients: spapi.SpApiClients,
        tuning: Tuning,
        buyer_ref_key: bytes,
        published: Callable[[], None] = lambda: None,
    ) -> None:
        self._pool = pool
        self._clients = clients
        self._tuning = tuning
        self._buyer_ref_key = buyer_ref_key
        self._published = published
        self.stopping = asyncio.Event()

    # --- lanes -----------------------------------------------------------------------------------------

    async def run_lane(self, connection_id: str, lane: str) -> None:
        """Does the lane's due work while holding its advisory lock; returns at once if another replica has it."""
        key = repository.lock_key(lane, connection_id)
        async with self._pool.acquire() as lock_conn:
            if not await repository.try_lock(lock_conn, key):
                return
            try:
                async with self._pool.acquire() as conn, conn.transaction():
                    interrupted = await repository.interrupt_running(conn, connection_id, lane)
                if interrupted:
                    log.warning("closed runs of a stopped process", extra={"runs": interrupted, "lane": lane})
                while not self.stopping.is_set():
                    run, connection = await self._next_run(connection_id, lane)
                    if run is None or connection is None:
                        return
                    with servicekit.log_context(connection_id=connection_id, run_id=run.id, trigger=run.trigger):
                        await self.execute(run, connection)
            finally:
                await repository.unlock(lock_conn, key)

    async def _next_run(self, connection_id: str, lane: str) -> tuple[repository.Run | None, Connection | None]:
        async with self._pool.acquire() as conn, conn.transaction():
            connection = await repository.connection(conn, connection_id)
            if connection is None or not connection.callable:
                return None, None
            if lane == "notify":
                order_ids = await repository.pending_notification_orders(
                    conn, connection_id, self._tuning.notification_batch
                )
                if not order_ids:
                    return None, None
                run = await repository.start_run(
                    conn, connection_id=connection_id, trigger="notification", lane="notify", order_ids=order_ids
                )
                return run, connection
            queued = await repository.next_queued_run(conn, connection_id, lane)
            if queued is not None:
                return queued, connection
            schedule = await repository.schedule(conn, connection_id)
            now = datetime.now(UTC)
            if schedule is None:
                return None, None
            if schedule.next_poll_at <= now:
                return await repository.start_run(conn, connection_id=connection_id, trigger="scheduled"), connection
            if domain.needs_cancellation_checks(connection.settings) and schedule.next_cancel_check_at <= now:
                run = await repository.start_run(conn, connection_id=connection_id, trigger="cancellation_check")
                return run, connection
            return None, None

    # --- one run ---------------------------------------------------------------------------------------

    async def execute(self, run: repository.Run, connection: Connection) -> str:
        """Runs one sync run to its end and records it; returns its final status."""
        client = self._clients.for_connection(connection)
        started = datetime.now(UTC)
        error: str | None = None
        horizon: datetime | None = None
        try:
            if run.order_ids is not None:
                await self._fetch_orders(run, connection, client, run.order_ids, started)
            else:
                horizon = await self._search(run, connection, client, started)
        except Stopping:
            error = "stopped by a shutdown before the last page; the next run reads this window again"
        except (spapi.SpApiError, httpx.HTTPError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("sync run failed", extra={"error": error})
        async with self._pool.acquire() as conn, conn.transaction():
            status = await repository.finish_run(conn, run.id, error=error)
            await self._reschedule(conn, run, connection, error is None, horizon, started)
            if error is not None and run.lane == "notify" and run.order_ids:
                await repository.notifications_failed(
                    conn, connection.connection_id, run.order_ids, run.id,
                    retry_in=self._tuning.scaled(self._tuning.notification_retry),
                    max_attempts=self._tuning.notification_attempts,
                )  # fmt: skip
        log.info("sync run finished", extra={"status": status, "run_id": run.id})
        return status

    async def _reschedule(
        self,
        conn: asyncpg.Connection,
        run: repository.Run,
        connection: Connection,
        read_everything: bool,
        horizon: datetime | None,
        started: datetime,
    ) -> None:
        scaled = self._tuning.scaled
        if run.trigger not in ("scheduled", "manual", "cancellation_check"):
            return
        cancel = run.trigger == "cancellation_check"
        if not read_everything or horizon is None:
            failures = await repository.schedule(conn, connection.connection_id)
            count = failures.failures if failures else 0
            backoff = min(
                scaled(self._tuning.failure_backoff) * 2**count, scaled(domain.poll_interval(connection.settings))
            )
            await repository.poll_failed(conn, connection.connection_id, retry_in=backoff, cancel=cancel)
            return
        if cancel:
            await repository.cancellation_check_succeeded(
                conn,
                connection.connection_id,
                watermark=horizon,
                next_check_at=started + scaled(domain.CANCELLATION_INTERVAL),
            )
        else:
            await repository.poll_succeeded(
                conn,
                connection.connection_id,
                watermark=horizon,
                next_poll_at=started + scaled(domain.poll_interval(connection.settings)),
                next_cancel_check_at=started + scaled(domain.CANCELLATION_INTERVAL),
            )

    async def _search(
        self, run: repository.Run, connection: Connection, client: spapi.SpApiClient, started: datetime
    ) -> datetime:
        """Reads every page of the run's window; returns the window's upper bound (the next watermark)."""
        settings = connection.settings
        before: datetime | None = None
        if run.trigger in ("resync", "custom_range"):
            if run.window_from is None:
                raise spapi.InvalidInput("orders.searchOrders", reason="the run has no time window")
            after = run.window_from
            before = run.window_to
            if before is not None:
                # Amazon takes whole seconds (spapi truncates): round the end up so the window loses no order,
                # unless that would cross Amazon's horizon (now - 2 min), which it refuses.
                rounded = _ceil_second(before)
                if rounded <= started - self._tuning.scaled(AMAZON_VISIBILITY_LAG):
                    before = rounded
        else:
            async with self._pool.acquire() as conn:
                schedule = await repository.schedule(conn, connection.connection_id)
            assert schedule is not None
            mark = schedule.cancel_watermark if run.trigger == "cancellation_check" else schedule.watermark
            after = mark - self._tuning.scaled(self._tuning.overlap)
        filters = spapi.SearchOrders(
            last_updated_after=after,
            last_updated_before=before,
            fulfillment_statuses=domain.search_statuses(
                settings, cancellations_only=run.trigger == "cancellation_check"
            ),
            fulfilled_by=domain.search_fulfilled_by(settings),  # type: ignore[arg-type]
            marketplace_ids=connection.marketplace_ids,
            max_results_per_page=self._tuning.page_size,
            included_data=domain.INCLUDED_DATA,
        )
        horizon: datetime | None = None
        async with self._pool.acquire() as conn:
            await repository.set_run_window(conn, run.id, after, before)
        priority = spapi.Priority.HIGH if run.trigger == "cancellation_check" else spapi.Priority.NORMAL
        async for page in client.orders.search_orders_pages(filters, priority=priority):
            if horizon is None:
                # Amazon answers with the Before it applied (now - 2 min by default): the next watermark.
                horizon = before or page.last_updated_before or started - self._tuning.scaled(AMAZON_VISIBILITY_LAG)
                async with self._pool.acquire() as conn:
                    await repository.set_run_window(conn, run.id, after, horizon)
            await self._apply(run, connection, page.orders)
            if self.stopping.is_set() and page.pagination and page.pagination.next_token:
                raise Stopping
        return horizon or started - self._tuning.scaled(AMAZON_VISIBILITY_LAG)

    async def _fetch_orders(
        self,
        run: repository.Run,
        connection: Connection,
        client: spapi.SpApiClient,
        order_ids: list[str],
        started: datetime,
    ) -> None:
        for order_id in order_ids:
            try:
                order = await client.orders.get_order(
                    order_id, included_data=domain.INCLUDED_DATA, priority=spapi.Priority.HIGH
                )
            except spapi.NotFound:
                await self._apply(run, connection, [], missing=order_id, notified_before=started)
                continue
            await self._apply(run, connection, [order], notified_before=started)
            if self.stopping.is_set():
                raise Stopping

    async def _apply(
        self,
        run: repository.Run,
        connection: Connection,
        orders: list[spapi.Order],
        *,
        missing: str | None = None,
        notified_before: datetime | None = None,
    ) -> None:
        """One transaction per page: each order in a savepoint, its outcome counted, failures recorded."""
        counts = Counts()
        async with self._pool.acquire() as conn, conn.transaction():
            if missing is not None:
                counts.failed += 1
                counts.errors.append((missing, "not found at Amazon (getOrder answered 404)"))
            for order in orders:
                counts.fetched += 1
                try:
                    async with conn.transaction():
                        outcome = await self._record(conn, run, connection, order)
                except (InvalidOrder, ContractError) as exc:
                    counts.failed += 1
                    counts.errors.append((order.order_id[:40], str(exc)))
                    log.warning("order could not be published", extra={"amazon_order_id": order.order_id[:40]})
                else:
                    setattr(counts, outcome, getattr(counts, outcome) + 1)
            for order_id, message in counts.errors:
                await repository.add_error(conn, run.id, order_id, message)
            if run.lane == "notify" and notified_before is not None:
                for order_id in [o.order_id for o in orders] + ([missing] if missing else []):
                    await repository.notifications_done(
                        conn, connection.connection_id, order_id, run.id, notified_before
                    )
            await repository.add_counts(
                conn,
                run.id,
                fetched=counts.fetched,
                published=counts.published,
                unchanged=counts.unchanged,
                skipped=counts.skipped,
                failed=counts.failed,
            )
        if counts.published:
            self._published()

    async def _record(
        self, conn: asyncpg.Connection, run: repository.Run, connection: Connection, order: spapi.Order
    ) -> str:
        """Publishes what is new about one order (or, on replay, again); returns the Counts field to bump."""
        decision, _ = domain.decide(order, connection.settings)
        if decision == Decision.SKIP:
            return "skipped"
        seller = connection.selling_partner_id
        assert seller is not None
        order_id = order.order_id
        revision = domain.revision(order)
        known = await repository.lock_order(conn, seller, order_id)
        if decision == Decision.CANCEL:
            if known is None:
                # Never imported (cancelled while Pending, or before the first poll): nobody to tell.
                return "skipped"
            earlier = await repository.published_revision(conn, seller, order_id, CANCELLED, None)
            if earlier is not None and not run.replay:
                return "unchanged"
            cancelled = domain.order_cancelled(order, connection, at_revision=earlier)
            event_revision = earlier or revision
            event = new_event(
                CANCELLED, cancelled, source=SERVICE, revision=event_revision, time=cancelled.last_update_date
            )
            if earlier is None:
                await repository.claim_revision(conn, seller, order_id, CANCELLED, revision, event.id, run.id)
            await messaging.add(conn, event)
            await self._save(conn, connection, order, status=OrderStatus.CANCELED.value)
            return "published"

        if known is not None and order.last_updated_time < known.last_update_date:
            # An older revision than one already handled (a slow page after a notification): never go back.
            published_before = await repository.published_revision(conn, seller, order_id, RECEIVED, revision)
            if not (run.replay and published_before):
                return "skipped"
        payload = domain.order_received(order, connection, self._buyer_ref_key)
        event = new_event(RECEIVED, payload, source=SERVICE, revision=revision, time=order.last_updated_time)
        if await repository.claim_revision(conn, seller, order_id, RECEIVED, revision, event.id, run.id):
            await messaging.add(conn, event)
            await self._save(conn, connection, order, status=payload.status.value)
            return "published"
        if run.replay:
            # Same revision, same event id: a consumer that lost its copy gets it again, others drop it.
            await messaging.add(conn, event)
            return "published"
        return "unchanged"

    async def _save(self, conn: asyncpg.Connection, connection: Connection, order: spapi.Order, *, status: str) -> None:
        assert connection.selling_partner_id is not None
        await repository.save_order(
            conn,
            selling_partner_id=connection.selling_partner_id,
            amazon_order_id=order.order_id,
            connection_id=connection.connection_id,
            marketplace_id=domain.marketplace_of(order),
            last_update_date=order.last_updated_time,
            status=status,
            fulfillment_channel=domain.channel_of(order),
            items=domain.bookkeeping_items(order),
        )


def _ceil_second(moment: datetime) -> datetime:
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


class Scheduler:
    """Finds connections with due work and runs their lanes, a few at a time; any replica may pick any lane."""

    name = "sync-scheduler"

    def __init__(self, pool: asyncpg.Pool, engine: SyncEngine, tuning: Tuning) -> None:
        self._pool = pool
        self._engine = engine
        self._tuning = tuning
        self._wakeup = asyncio.Event()
        self._inflight: dict[tuple[str, str], asyncio.Task[None]] = {}

    def wake(self) -> None:
        self._wakeup.set()

    async def stop(self) -> None:
        self._engine.stopping.set()
        self._wakeup.set()

    async def run(self) -> None:
        tick = max(0.05, self._tuning.tick_seconds / max(1.0, self._tuning.speedup / 10))
        try:
            while not self._engine.stopping.is_set():
                self._wakeup.clear()
                free = self._tuning.max_concurrent_lanes - len(self._inflight)
                due: list[tuple[str, str]] = []
                if free > 0:
                    try:
                        async with self._pool.acquire() as conn:
                            due = await repository.due_lanes(conn, limit=self._tuning.max_concurrent_lanes * 4)
                    except (OSError, TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
                        # PostgreSQL is away: /readyz says so; try again next tick instead of restarting.
                        log.warning("cannot read due sync work; PostgreSQL unreachable")
                    for lane in due:
                        if lane in self._inflight or len(self._inflight) >= self._tuning.max_concurrent_lanes:
                            continue
                        task = asyncio.create_task(self._lane(*lane), name=f"lane-{lane[1]}-{lane[0]}")
                        self._inflight[lane] = task
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), tick)
        finally:
            if self._inflight:
                await asyncio.gather(*self._inflight.values(), return_exceptions=True)

    async def _lane(self, connection_id: str, lane: str) -> None:
        try:
            await self._engine.run_lane(connection_id, lane)
        except Exception:
            # A database outage: logged here, retried on a later tick; /readyz reports the outage.
            log.exception("sync lane failed", extra={"connection_id": connection_id, "lane": lane})
        finally:
            self._inflight.pop((connection_id, lane), None)
            self._wakeup.set()


class RetentionJob:
    """Deletes sync history past its retention: 30 days for succeeded runs, 60 for failed ones."""

    name = "sync-history-retention"

    def __init__(self, pool: asyncpg.Pool, tuning: Tuning) -> None:
        self._pool = pool
        self._tuning = tuning
        self._stopping = asyncio.Event()

    async def stop(self) -> None:
        self._stopping.set()

    async def purge(self) -> int:
        async with self._pool.acquire() as conn:
            deleted = await repository.purge_history(
                conn, succeeded=self._tuning.keep_succeeded, failed=self._tuning.keep_failed
            )
        if deleted:
            log.info("sync history purged", extra={"runs": deleted})
        return deleted

    async def run(self) -> None:
        every = self._tuning.scaled(self._tuning.retention_every).total_seconds()
        while not self._stopping.is_set():
            try:
                await self.purge()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.exception("sync history retention failed; retrying later")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), every)
