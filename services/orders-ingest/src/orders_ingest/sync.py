"""Sync runs: read orders from Amazon, publish each (seller, order, revision) once through the outbox, record history.

The synchistory lib runs the lanes (`Lane.POLL`, `Lane.NOTIFY`) under advisory locks, schedules them, recovers
what a dead process left and keeps the history; `SyncEngine` is what a run of orders-ingest does.

Guarantees:
- An event goes to the outbox in the same transaction as its `published_events` row, so a crash at any point
  either publishes it later (outbox) or re-reads it on the next run; never twice, never lost.
- The watermark moves only after a run read every page; per-record failures do not hold it back (they are
  in the run's history and a resync retries them). An order that breaks in a way nobody foresaw is such a
  failure too (its error names the exception's type and line, never its values).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial

import asyncpg
import httpx
import messaging
import servicekit
import spapi
import synchistory
from contracts import ContractError, OrderStatus, new_event
from synchistory import Run, RunFailed, Tally, Trigger

from orders_ingest import domain, repository
from orders_ingest.domain import Connection, Decision, InvalidOrder
from orders_ingest.sync_history import HISTORY, Lane, OrdersTrigger

log = logging.getLogger(__name__)

SERVICE = "orders-ingest"
RECEIVED = "order.received"
CANCELLED = "order.cancelled"
# Amazon: the Before bound of searchOrders must be at least two minutes before now.
AMAZON_VISIBILITY_LAG = timedelta(minutes=2)
# Runs that read from the schedule's watermark and move it on.
_SCHEDULED = (Trigger.SCHEDULED, Trigger.MANUAL, OrdersTrigger.CANCELLATION_CHECK)
STOPPED = "stopped by a shutdown before the last page; the next run reads this window again"


@dataclass(frozen=True, slots=True, kw_only=True)
class Tuning:
    """Timing of the sync. `speedup` > 1 only against a sped-up sandbox: every duration is divided by it."""

    speedup: float = 1.0
    overlap: timedelta = timedelta(minutes=5)
    initial_lookback: timedelta = timedelta(days=3)
    page_size: int = 100
    max_concurrent_lanes: int = 4
    # The scheduler sleeps until the earliest due lane or a wake-up, at most this long.
    scheduler_max_sleep: timedelta = timedelta(seconds=30)
    # A lane a replica took is left alone by the others this long (a dead replica's lanes come back after it).
    lane_lease: timedelta = timedelta(minutes=5)
    notification_batch: int = 50
    notification_retry: timedelta = timedelta(seconds=30)  # doubled on each failed attempt
    notification_attempts: int = 5
    failure_backoff: timedelta = timedelta(minutes=1)
    keep_succeeded: timedelta = synchistory.KEEP_SUCCEEDED
    keep_failed: timedelta = synchistory.KEEP_FAILED
    retention_every: timedelta = timedelta(hours=1)

    def scaled(self, duration: timedelta) -> timedelta:
        return duration / self.speedup


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a run that read everything hands to `finished`."""

    started: datetime
    horizon: datetime | None  # the window's upper bound: the next watermark (None for runs over order ids)


@dataclass(eq=False, kw_only=True)
class SyncEngine:
    """orders-ingest's `synchistory.SyncWork`: which runs are due, what one does, what it changes when it ends."""

    pool: asyncpg.Pool
    clients: spapi.SpApiClients
    tuning: Tuning
    buyer_ref_key: bytes
    published: Callable[[], None] = lambda: None  # events went to the outbox: wake the relay

    def __post_init__(self) -> None:
        self.lanes = synchistory.Lanes(
            self.pool,
            HISTORY,
            self,
            backoff=self.tuning.scaled(self.tuning.failure_backoff),
            max_backoff=self.tuning.scaled(timedelta(minutes=30)),
        )

    @property
    def stopping(self) -> bool:
        return self.lanes.stopping.is_set()

    # --- synchistory.SyncWork ----------------------------------------------------------------------

    async def context(self, conn: asyncpg.Connection, connection_id: str) -> Connection | None:
        connection = await repository.connection(conn, connection_id)
        return connection if connection is not None and connection.callable else None

    async def due_run(
        self, conn: asyncpg.Connection, connection_id: str, lane: StrEnum, context: Connection
    ) -> Run | None:
        if lane == Lane.NOTIFY:
            order_ids = await repository.pending_notification_orders(
                conn, connection_id, self.tuning.notification_batch
            )
            if not order_ids:
                return None
            return await HISTORY.start_run(
                conn, connection_id=connection_id, trigger=OrdersTrigger.NOTIFICATION, lane=Lane.NOTIFY,
                record_keys=order_ids,
            )  # fmt: skip
        schedule = await repository.schedule(conn, connection_id)
        if schedule is None:
            return None
        now = datetime.now(UTC)
        trigger: StrEnum | None = None
        if schedule.next_poll_at <= now:
            trigger = Trigger.SCHEDULED
        elif domain.needs_cancellation_checks(context.settings) and schedule.next_cancel_check_at <= now:
            trigger = OrdersTrigger.CANCELLATION_CHECK
        if trigger is None:
            return None
        return await HISTORY.start_run(conn, connection_id=connection_id, trigger=trigger, lane=Lane.POLL)

    async def next_due(
        self, conn: asyncpg.Connection, connection_id: str, lane: StrEnum, context: Connection
    ) -> datetime | None:
        if lane == Lane.NOTIFY:
            return await repository.next_notification_at(conn, connection_id)
        schedule = await repository.schedule(conn, connection_id)
        if schedule is None:
            return None
        if domain.needs_cancellation_checks(context.settings):
            return min(schedule.next_poll_at, schedule.next_cancel_check_at)
        return schedule.next_poll_at

    async def execute(self, run: Run, context: Connection) -> Outcome:
        """Reads the run's window (or its orders) to the end; raises RunFailed when Amazon or a shutdown stops it."""
        client = self.clients.for_connection(context)
        started = datetime.now(UTC)
        horizon: datetime | None = None
        try:
            if run.record_keys is not None:
                await self._fetch_orders(run, context, client, run.record_keys, started)
            else:
                horizon = await self._search(run, context, client, started)
        except (spapi.SpApiError, httpx.HTTPError) as exc:
            raise RunFailed(f"{type(exc).__name__}: {exc}") from exc
        return Outcome(started=started, horizon=horizon)

    async def finished(
        self, conn: asyncpg.Connection, run: Run, context: Connection, result: Outcome | None, error: str | None
    ) -> None:
        await self._reschedule(conn, run, context, result)
        if error is not None and run.lane == Lane.NOTIFY and run.record_keys:
            await repository.notifications_failed(
                conn, context.connection_id, run.record_keys, run.id,
                retry_in=self.tuning.scaled(self.tuning.notification_retry),
                max_attempts=self.tuning.notification_attempts,
            )  # fmt: skip

    # --- one run ---------------------------------------------------------------------------------------

    async def _reschedule(
        self, conn: asyncpg.Connection, run: Run, connection: Connection, outcome: Outcome | None
    ) -> None:
        scaled = self.tuning.scaled
        if run.trigger not in _SCHEDULED:
            return
        cancel = run.trigger == OrdersTrigger.CANCELLATION_CHECK
        if outcome is None or outcome.horizon is None:
            failures = await repository.schedule(conn, connection.connection_id)
            count = failures.failures if failures else 0
            backoff = min(
                scaled(self.tuning.failure_backoff) * 2**count, scaled(domain.poll_interval(connection.settings))
            )
            await repository.poll_failed(conn, connection.connection_id, retry_in=backoff, cancel=cancel)
            return
        if cancel:
            await repository.cancellation_check_succeeded(
                conn,
                connection.connection_id,
                watermark=outcome.horizon,
                next_check_at=outcome.started + scaled(domain.CANCELLATION_INTERVAL),
            )
        else:
            await repository.poll_succeeded(
                conn,
                connection.connection_id,
                watermark=outcome.horizon,
                next_poll_at=outcome.started + scaled(domain.poll_interval(connection.settings)),
                next_cancel_check_at=outcome.started + scaled(domain.CANCELLATION_INTERVAL),
            )

    async def _search(self, run: Run, connection: Connection, client: spapi.SpApiClient, started: datetime) -> datetime:
        """Reads every page of the run's window; returns the window's upper bound (the next watermark)."""
        settings = connection.settings
        before: datetime | None = None
        if run.trigger in (Trigger.RESYNC, Trigger.CUSTOM_RANGE):
            if run.window_from is None:
                raise spapi.InvalidInput("orders.searchOrders", reason="the run has no time window")
            after = run.window_from
            before = run.window_to
            if before is not None:
                # Amazon takes whole seconds (spapi truncates): round the end up so the window loses no order,
                # unless that would cross Amazon's horizon (now - 2 min), which it refuses.
                rounded = _ceil_second(before)
                if rounded <= started - self.tuning.scaled(AMAZON_VISIBILITY_LAG):
                    before = rounded
        else:
            async with self.pool.acquire() as conn:
                schedule = await repository.schedule(conn, connection.connection_id)
            assert schedule is not None
            mark = schedule.cancel_watermark if run.trigger == OrdersTrigger.CANCELLATION_CHECK else schedule.watermark
            after = mark - self.tuning.scaled(self.tuning.overlap)
        filters = spapi.SearchOrders(
            last_updated_after=after,
            last_updated_before=before,
            fulfillment_statuses=domain.search_statuses(
                settings, cancellations_only=run.trigger == OrdersTrigger.CANCELLATION_CHECK
            ),
            fulfilled_by=domain.search_fulfilled_by(settings),  # type: ignore[arg-type]
            marketplace_ids=connection.marketplace_ids,
            max_results_per_page=self.tuning.page_size,
            included_data=domain.INCLUDED_DATA,
        )
        horizon: datetime | None = None
        async with self.pool.acquire() as conn:
            await HISTORY.set_window(conn, run.id, after, before)
        priority = spapi.Priority.HIGH if run.trigger == OrdersTrigger.CANCELLATION_CHECK else spapi.Priority.NORMAL
        async for page in client.orders.search_orders_pages(filters, priority=priority):
            if horizon is None:
                # Amazon answers with the Before it applied (now - 2 min by default): the next watermark.
                horizon = before or page.last_updated_before or started - self.tuning.scaled(AMAZON_VISIBILITY_LAG)
                async with self.pool.acquire() as conn:
                    await HISTORY.set_window(conn, run.id, after, horizon)
            await self._apply(run, connection, page.orders)
            if self.stopping and page.pagination and page.pagination.next_token:
                raise RunFailed(STOPPED)
        return horizon or started - self.tuning.scaled(AMAZON_VISIBILITY_LAG)

    async def _fetch_orders(
        self,
        run: Run,
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
            if self.stopping:
                raise RunFailed(STOPPED)

    async def _apply(
        self,
        run: Run,
        connection: Connection,
        orders: list[spapi.Order],
        *,
        missing: str | None = None,
        notified_before: datetime | None = None,
    ) -> None:
        """One transaction per page: each order in a savepoint, its outcome counted, failures recorded."""
        tally = Tally()
        async with self.pool.acquire() as conn, conn.transaction():
            if missing is not None:
                tally.failure(missing, "not found at Amazon (getOrder answered 404)")
            for order in orders:
                tally.count("fetched")
                key = order.order_id[:40]
                try:
                    async with conn.transaction():
                        tally.success(await self._record(conn, run, connection, order))
                except (InvalidOrder, ContractError) as exc:
                    tally.failure(key, str(exc))
                    log.warning("order could not be published", extra={"amazon_order_id": key})
                except Exception as exc:
                    if servicekit.is_outage(exc):
                        raise
                    # Data nobody foresaw: this order fails, the others go on, the watermark still moves.
                    tally.unexpected(key, exc)
                    log.error("order broke unexpectedly", extra={"amazon_order_id": key, "error": type(exc).__name__})
            await HISTORY.record(conn, run.id, tally)
            if run.lane == Lane.NOTIFY and notified_before is not None:
                for order_id in [o.order_id for o in orders] + ([missing] if missing else []):
                    await repository.notifications_done(
                        conn, connection.connection_id, order_id, run.id, notified_before
                    )
        if tally.counts.get("published"):
            self.published()

    async def _record(self, conn: asyncpg.Connection, run: Run, connection: Connection, order: spapi.Order) -> str:
        """Publishes what is new about one order (or, on replay, again); returns the outcome to count."""
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
        payload = domain.order_received(order, connection, self.buyer_ref_key)
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


def build_scheduler(pool: asyncpg.Pool, engine: SyncEngine, tuning: Tuning) -> synchistory.Scheduler:
    return synchistory.Scheduler(
        pool,
        engine.lanes,
        concurrency=tuning.max_concurrent_lanes,
        lease=tuning.scaled(tuning.lane_lease),
        max_sleep=tuning.scaled(tuning.scheduler_max_sleep).total_seconds(),
    )


def build_retention(pool: asyncpg.Pool, tuning: Tuning) -> synchistory.Retention:
    """Sync history past retention, and with it the notification ids its runs handled."""
    return synchistory.Retention(
        pool,
        HISTORY,
        keep_succeeded=tuning.keep_succeeded,
        keep_failed=tuning.keep_failed,
        every=tuning.scaled(tuning.retention_every),
        also=[partial(repository.purge_notifications, older_than=tuning.keep_succeeded)],
    )
