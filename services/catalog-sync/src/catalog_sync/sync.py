"""Runs: import the listings report into listing.updated, read FBA quantities into fba.inventory.

The synchistory lib runs the lanes (`Lane.CATALOG`, `Lane.FBA`) under advisory locks, schedules, recovers what a
dead process left and keeps the history; `CatalogEngine` is what a run of catalog-sync does.

Guarantees:
- A listing's event goes to the outbox in the transaction that stores its content hash and revision, so a crash
  either publishes it later (outbox) or leaves the old hash, and the next run publishes it: never lost, and never
  twice for the same state (a re-run finds the hash it published and publishes nothing).
- Only a full import (every marketplace's report read) tombstones SKUs that are gone; a row that failed to parse
  is never taken for gone.
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
import httpx
import messaging
import pydantic
import sellers
import servicekit
import spapi
import synchistory
from contracts import ContractError, listing_key, new_event
from prometheus_client import Counter
from sellers import Connection
from synchistory import Run, RunFailed, Tally, Trigger

from catalog_sync import domain, listings_report, repository
from catalog_sync.listings_report import ReportRow
from catalog_sync.sync_history import HISTORY, Lane

log = logging.getLogger(__name__)

SERVICE = "catalog-sync"
LISTING = "listing.updated"
FBA = "fba.inventory"
REPORT_TYPE = "GET_MERCHANT_LISTINGS_ALL_DATA"
DETAILS = ("summaries", "attributes", "relationships")
# Outcomes per record kind (listing/fba) and outcome (published/unchanged/deleted/failed), after commit.
RECORDS = Counter("catalog_records_total", "Listings and FBA summaries handled by outcome", ["kind", "outcome"])
STOPPED = "stopped by a shutdown before the import ended; the next run reads the report again"


@dataclass(frozen=True, slots=True, kw_only=True)
class Tuning:
    """Timing of the sync. `speedup` > 1 only against a sped-up sandbox: every duration is divided by it."""

    speedup: float = 1.0
    batch_size: int = 250  # report rows per transaction
    # getListingsItem calls in flight: below Amazon's burst of 5, so a round of them never meets a 429.
    detail_concurrency: int = 4
    report_poll: timedelta = timedelta(seconds=30)
    report_timeout: timedelta = timedelta(minutes=30)
    failure_backoff: timedelta = timedelta(minutes=1)
    max_concurrent_lanes: int = 4
    scheduler_max_sleep: timedelta = timedelta(seconds=30)
    lane_lease: timedelta = timedelta(minutes=30)
    keep_succeeded: timedelta = synchistory.KEEP_SUCCEEDED
    keep_failed: timedelta = synchistory.KEEP_FAILED
    retention_every: timedelta = timedelta(hours=1)

    def scaled(self, duration: timedelta) -> timedelta:
        return duration / self.speedup


@dataclass(frozen=True, slots=True)
class Outcome:
    started: datetime
    complete: bool


@dataclass(eq=False, kw_only=True)
class CatalogEngine:
    """catalog-sync's `synchistory.SyncWork` for both lanes."""

    pool: asyncpg.Pool
    clients: spapi.SpApiClients
    tuning: Tuning
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
        connection = await sellers.connection(conn, connection_id)
        return connection if connection is not None and connection.callable else None

    async def due_run(
        self, conn: asyncpg.Connection, connection_id: str, lane: StrEnum, context: Connection
    ) -> Run | None:
        schedule = await repository.schedule(conn, connection_id)
        if schedule is None:
            return None
        due = schedule["next_catalog_at"] if lane == Lane.CATALOG else schedule["next_fba_at"]
        if due > datetime.now(UTC):
            return None
        return await HISTORY.start_run(conn, connection_id=connection_id, trigger=Trigger.SCHEDULED, lane=lane)

    async def next_due(
        self, conn: asyncpg.Connection, connection_id: str, lane: StrEnum, context: Connection
    ) -> datetime | None:
        schedule = await repository.schedule(conn, connection_id)
        if schedule is None:
            return None
        due: datetime = schedule["next_catalog_at"] if lane == Lane.CATALOG else schedule["next_fba_at"]
        return due

    async def execute(self, run: Run, context: Connection) -> Outcome:
        started = datetime.now(UTC)
        try:
            if run.lane == Lane.FBA:
                await self._read_fba(run, context)
            else:
                await self._import(run, context)
        except (spapi.SpApiError, httpx.HTTPError, spapi.ReportEncodingError) as exc:
            raise RunFailed(f"{type(exc).__name__}: {exc}") from exc
        except listings_report.ReportUnusable as exc:
            raise RunFailed(str(exc)) from exc
        return Outcome(started=started, complete=True)

    async def finished(
        self, conn: asyncpg.Connection, run: Run, context: Connection, result: Outcome | None, error: str | None
    ) -> None:
        settings = context.settings
        scaled = self.tuning.scaled
        schedule = await repository.schedule(conn, context.connection_id)
        if schedule is None:
            return
        if run.lane == Lane.FBA:
            interval = scaled(timedelta(minutes=settings.fba_inventory_interval_minutes))
            if result is not None:
                await repository.fba_done(conn, context.connection_id, next_at=result.started + interval, ok=True)
            else:
                wait = repository.backoff(schedule["fba_failures"], scaled(self.tuning.failure_backoff), interval)
                await repository.fba_done(conn, context.connection_id, next_at=datetime.now(UTC) + wait, ok=False)
            return
        interval = scaled(timedelta(minutes=settings.catalog_poll_interval_minutes))
        if result is not None:
            await repository.catalog_done(conn, context.connection_id, next_at=result.started + interval, imported=True)
        else:
            wait = repository.backoff(schedule["catalog_failures"], scaled(self.tuning.failure_backoff), interval)
            await repository.catalog_done(conn, context.connection_id, next_at=datetime.now(UTC) + wait, imported=False)

    # --- the catalog import ----------------------------------------------------------------------------

    async def download_report(self, client: spapi.SpApiClient, marketplace_id: str) -> str:
        report_id = await client.reports.create_report(
            spapi.CreateReportSpecification(report_type=REPORT_TYPE, marketplace_ids=[marketplace_id])
        )
        report = await client.reports.wait_for_report(
            report_id,
            poll_interval=self.tuning.scaled(self.tuning.report_poll).total_seconds(),
            timeout=self.tuning.scaled(self.tuning.report_timeout).total_seconds(),
        )
        if report.processing_status != "DONE" or report.report_document_id is None:
            raise RunFailed(f"Amazon ended the listings report {report.processing_status}")
        document = await client.reports.get_report_document(report.report_document_id)
        return await client.reports.download_report_text(document)

    async def _import(self, run: Run, connection: Connection) -> None:
        client = self.clients.for_connection(connection)
        started = datetime.now(UTC)
        async with self.pool.acquire() as conn:
            known = await repository.known_listings(conn, connection.connection_id)
            schedule = await repository.schedule(conn, connection.connection_id)
            # The report is Amazon's whole catalog now; the window says which change it covers (since the last
            # import), and gives resync something to repeat.
            since = schedule["imported_at"] if schedule is not None and schedule["imported_at"] else started
            await HISTORY.set_window(conn, run.id, min(since, started), started)
        seen: set[str] = set()
        for marketplace_id in connection.marketplace_ids:
            text = await self.download_report(client, marketplace_id)
            parsed = listings_report.parse(text)
            await self.apply_report(run, connection, client, marketplace_id, parsed, known, seen)
            if self.stopping:
                raise RunFailed(STOPPED)
        await self._tombstone(run, connection, known, seen)

    async def apply_report(
        self,
        run: Run,
        connection: Connection,
        client: spapi.SpApiClient | None,
        marketplace_id: str,
        parsed: listings_report.ParsedReport,
        known: dict[str, repository.Known],
        seen: set[str],
    ) -> None:
        """Publishes what changed in one marketplace's report, batch by batch; `seen` collects the SKUs read."""
        if parsed.failures:
            tally = Tally()
            for failure in parsed.failures:
                if failure.sku:
                    seen.add(failure.sku)  # unreadable now, not gone: never tombstoned for it
                tally.failure(failure.sku or f"line {failure.line}", f"report line {failure.line}: {failure.error}")
            async with self.pool.acquire() as conn, conn.transaction():
                await HISTORY.record(conn, run.id, tally)
        rows: list[ReportRow] = []
        for row in parsed.rows:
            if row.sku in seen:
                continue  # the same SKU in an earlier marketplace of the connection: the key holds one listing
            seen.add(row.sku)
            rows.append(row)
        size = self.tuning.batch_size
        for start in range(0, len(rows), size):
            await self._apply_batch(run, connection, client, marketplace_id, rows[start : start + size], known)
            if self.stopping and start + size < len(rows):
                raise RunFailed(STOPPED)

    async def _apply_batch(
        self,
        run: Run,
        connection: Connection,
        client: spapi.SpApiClient | None,
        marketplace_id: str,
        rows: list[ReportRow],
        known: dict[str, repository.Known],
    ) -> None:
        def changed(row: ReportRow) -> bool:
            before = known.get(row.sku)
            return run.replay or before is None or before.gone or before.row_hash != row.row_hash

        todo = [row for row in rows if changed(row)]
        details = await self._details(client, marketplace_id, todo)
        tally = Tally()
        now = datetime.now(UTC)
        async with self.pool.acquire() as conn, conn.transaction():
            # SKU order, as the link route locks them: two writers of the same listings never deadlock.
            for row in sorted(rows, key=lambda r: r.sku):
                tally.count("fetched")
                if row.sku not in details:
                    tally.success("unchanged")
                    continue
                detail = details[row.sku]
                if isinstance(detail, BaseException):
                    tally.failure(row.sku, f"getListingsItem failed: {_amazon_error(detail)}")
                    continue
                try:
                    async with conn.transaction():
                        tally.success(await self._publish(conn, run, connection, marketplace_id, row, detail, now))
                except (ContractError, pydantic.ValidationError) as exc:
                    tally.failure(row.sku, synchistory.describe(exc))
                except Exception as exc:
                    if servicekit.is_outage(exc):
                        raise
                    tally.unexpected(row.sku, exc)
                    log.error("listing broke unexpectedly", extra={"sku": row.sku, "error": type(exc).__name__})
            await HISTORY.record(conn, run.id, tally)
        _count("listing", tally)
        if tally.counts.get("published"):
            self.published()

    async def _details(
        self, client: spapi.SpApiClient | None, marketplace_id: str, rows: list[ReportRow]
    ) -> dict[str, domain.Details | BaseException | None]:
        """getListingsItem for the rows that changed: the variation family and Amazon's status. None: not asked."""
        if client is None:
            return {row.sku: None for row in rows}
        gate = asyncio.Semaphore(self.tuning.detail_concurrency)

        async def one(row: ReportRow) -> domain.Details | BaseException:
            async with gate:
                try:
                    item = await client.listings.get_listings_item(
                        row.sku, marketplace_ids=[marketplace_id], included_data=DETAILS, priority=spapi.Priority.LOW
                    )
                except spapi.NotFound:
                    return domain.Details(variation=domain.Variation(), status=None, last_updated=None)
                except spapi.SpApiError as exc:
                    return exc
                return domain.details_of(item, marketplace_id)

        found = await asyncio.gather(*(one(row) for row in rows))
        return {row.sku: detail for row, detail in zip(rows, found, strict=True)}

    async def _publish(
        self,
        conn: asyncpg.Connection,
        run: Run,
        connection: Connection,
        marketplace_id: str,
        row: ReportRow,
        details: domain.Details | None,
        now: datetime,
    ) -> str:
        connection_id = connection.connection_id
        current = await repository.lock_listing(conn, connection_id, row.sku)
        item_id = await repository.link_of(conn, connection_id, row.sku)
        content = domain.listing_content(connection_id, marketplace_id, row, details, item_id)
        digest = domain.content_hash(content)
        unchanged = current is not None and current["gone_at"] is None and current["content_hash"] == digest
        if unchanged and not run.replay:
            await repository.touch_row(conn, connection_id, row.sku, row.row_hash)
            return "unchanged"
        revision = (current["revision"] if current else 0) + (0 if unchanged else 1)
        payload = domain.listing_updated(content, revision=revision, now=now)
        # The revision names the state: a replay of the same state carries the same event id.
        await messaging.add(conn, new_event(LISTING, payload, source=SERVICE, revision=str(revision), time=now))
        await repository.save_listing(
            conn,
            connection_id=connection_id,
            sku=row.sku,
            marketplace_id=marketplace_id,
            row_hash=row.row_hash,
            content_hash=digest,
            revision=revision,
            payload=payload.model_dump(mode="json"),
            channel=row.fulfillment_channel,
        )
        return "published"

    async def _tombstone(
        self, run: Run, connection: Connection, known: dict[str, repository.Known], seen: set[str]
    ) -> None:
        gone = sorted(sku for sku, state in known.items() if not state.gone and sku not in seen)
        if not gone:
            return
        tally = Tally()
        async with self.pool.acquire() as conn, conn.transaction():
            for sku in gone:
                key = listing_key(connection.connection_id, sku).encode()
                await messaging.add_tombstone(conn, LISTING, key)
                await repository.mark_gone(conn, connection.connection_id, sku)
                tally.success("deleted")
            await HISTORY.record(conn, run.id, tally)
        _count("listing", tally)
        self.published()

    async def republish(self, conn: asyncpg.Connection, connection_id: str, sku: str) -> bool:
        """Publishes a listing again with its current link (after the operator linked it); False if unchanged."""
        current = await repository.lock_listing(conn, connection_id, sku)
        if current is None or current["gone_at"] is not None:
            return False
        item_id = await repository.link_of(conn, connection_id, sku) or sku
        content = {k: v for k, v in _loads(current["payload"]).items() if k not in ("revision", "updated_at")}
        content["item_id"] = item_id
        digest = domain.content_hash(content)
        if digest == current["content_hash"]:
            return False
        now = datetime.now(UTC)
        revision = current["revision"] + 1
        payload = domain.listing_updated(content, revision=revision, now=now)
        await messaging.add(conn, new_event(LISTING, payload, source=SERVICE, revision=str(revision), time=now))
        await repository.save_listing(
            conn,
            connection_id=connection_id,
            sku=sku,
            marketplace_id=current["marketplace_id"],
            row_hash=current["row_hash"],
            content_hash=digest,
            revision=revision,
            payload=payload.model_dump(mode="json"),
            channel=current["fulfillment_channel"],
        )
        return True

    # --- FBA -------------------------------------------------------------------------------------------

    async def _read_fba(self, run: Run, connection: Connection) -> None:
        client = self.clients.for_connection(connection)
        api = spapi.FbaInventoryApi(client)
        async with self.pool.acquire() as conn:
            hashes = await repository.fba_hashes(conn, connection.connection_id)
        for marketplace_id in connection.marketplace_ids:
            batch: list[spapi.InventorySummary] = []
            async for summary in api.inventory_summaries(marketplace_id, priority=spapi.Priority.LOW):
                batch.append(summary)
                if len(batch) >= self.tuning.batch_size:
                    await self._apply_fba(run, connection, marketplace_id, batch, hashes)
                    batch = []
            await self._apply_fba(run, connection, marketplace_id, batch, hashes)
        async with self.pool.acquire() as conn, conn.transaction():
            await repository.refresh_mismatches(conn, connection.connection_id)

    async def _apply_fba(
        self,
        run: Run,
        connection: Connection,
        marketplace_id: str,
        summaries: list[spapi.InventorySummary],
        hashes: dict[str, str],
    ) -> None:
        tally = Tally()
        now = datetime.now(UTC)
        async with self.pool.acquire() as conn, conn.transaction():
            for summary in summaries:
                tally.count("fetched")
                sku = summary.seller_sku
                if not sku or len(sku) > 40:
                    tally.failure(None, "an inventory summary without a usable sellerSku")
                    continue
                try:
                    content = domain.fba_content(connection.connection_id, marketplace_id, summary, now)
                    digest = domain.fba_hash(content)
                    if hashes.get(sku) == digest and not run.replay:
                        tally.success("unchanged")
                        continue
                    as_of = summary.last_updated_time or now
                    payload = domain.fba_inventory(content, as_of)
                    async with conn.transaction():
                        await messaging.add(
                            conn, new_event(FBA, payload, source=SERVICE, revision=digest[:16], time=now)
                        )
                        await repository.save_fba(
                            conn,
                            connection_id=connection.connection_id,
                            sku=sku,
                            marketplace_id=marketplace_id,
                            content_hash=digest,
                            fulfillable=payload.fulfillable,
                            payload=payload.model_dump(mode="json"),
                            as_of=as_of,
                        )
                    hashes[sku] = digest
                    tally.success("published")
                except (ContractError, pydantic.ValidationError) as exc:
                    tally.failure(sku, synchistory.describe(exc))
            await HISTORY.record(conn, run.id, tally)
        _count("fba", tally)
        if tally.counts.get("published"):
            self.published()


def _count(kind: str, tally: Tally) -> None:
    for outcome in ("published", "unchanged", "deleted"):
        if tally.counts.get(outcome):
            RECORDS.labels(kind, outcome).inc(tally.counts[outcome])
    if tally.failed:
        RECORDS.labels(kind, "failed").inc(tally.failed)


def _loads(value: Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(value) if isinstance(value, str) else dict(value)
    return result


def _amazon_error(exc: BaseException) -> str:
    if isinstance(exc, spapi.SpApiError):
        return f"{type(exc).__name__} (HTTP {exc.status})"
    return type(exc).__name__


def build_scheduler(pool: asyncpg.Pool, engine: CatalogEngine, tuning: Tuning) -> synchistory.Scheduler:
    return synchistory.Scheduler(
        pool,
        engine.lanes,
        concurrency=tuning.max_concurrent_lanes,
        lease=tuning.scaled(tuning.lane_lease),
        max_sleep=tuning.scaled(tuning.scheduler_max_sleep).total_seconds(),
    )


def build_retention(pool: asyncpg.Pool, tuning: Tuning) -> synchistory.Retention:
    return synchistory.Retention(
        pool,
        HISTORY,
        keep_succeeded=tuning.keep_succeeded,
        keep_failed=tuning.keep_failed,
        every=tuning.scaled(tuning.retention_every),
    )
