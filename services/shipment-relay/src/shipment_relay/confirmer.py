"""The confirmShipment loop: each package validated, sent once, reconciled when its answer is unknown, read back.

Packages are taken oldest first, so under throttling the oldest shipment is the next one sent; the gauge
`shipment_oldest_waiting_seconds` shows how long the oldest open one has waited.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import asyncpg
import contracts
import messaging
import sellers
import servicekit
import spapi
import synchistory
from prometheus_client import Counter, Gauge

from shipment_relay import domain, repository
from shipment_relay.sync_history import Lane, RelayTrigger, resync_queued, write_run

log = logging.getLogger(__name__)

SERVICE = "shipment-relay"
OUTCOMES = Counter("shipment_packages_total", "Packages decided, by outcome", ["outcome"])
OLDEST = Gauge("shipment_oldest_waiting_seconds", "Age of the oldest shipment with a package not yet decided")
CALLS = Counter("shipment_confirm_calls_total", "confirmShipment calls, by result", ["result"])

_READ = (spapi.IncludedData.FULFILLMENT, spapi.IncludedData.PACKAGES)


@dataclass(frozen=True, kw_only=True, slots=True)
class Tuning:
    speedup: float = 1.0
    apply_delay: timedelta = timedelta(seconds=60)
    sending_lease: timedelta = timedelta(seconds=120)
    concurrency: int = 64
    # Packages of one connection worked at once. A call takes milliseconds, so a few keep a seller at its rate
    # (and drain its burst of 10 at once); more would only wait on its rate limit in slots other sellers could use.
    per_connection: int = 4
    idle_poll: timedelta = timedelta(seconds=5)
    first_retry: timedelta = timedelta(seconds=5)
    max_retry: timedelta = timedelta(minutes=5)
    # The read-back of an accepted package stops after this many looks; it stays accepted.
    read_backs: int = 10

    def scaled(self, delay: timedelta) -> timedelta:
        return delay / self.speedup


@dataclass(slots=True)
class _Pass:
    """One connection's packages of one tick: written as a sync run once the last of them is done."""

    connection_id: str
    trigger: StrEnum
    left: int
    keys: list[str]
    tally: synchistory.Tally = field(default_factory=synchistory.Tally)


# The package a task works on, so the outcome it decides lands in its pass's tally without threading it through.
_TALLY: contextvars.ContextVar[synchistory.Tally] = contextvars.ContextVar("shipment_relay_tally")


def _trigger(rows: list[asyncpg.Record]) -> StrEnum:
    if all(r["state"] == "accepted" for r in rows):
        return synchistory.Trigger.SCHEDULED  # read-backs on the confirmer's schedule
    # Sent before, answer unknown, or decided once and put back to pending by an operator's retry or resync.
    if any(
        r["attempts"] > 0 or r["state"] == "unknown" or r["decided_at"] is not None
        for r in rows
        if r["state"] != "accepted"
    ):
        return RelayTrigger.RETRY
    return RelayTrigger.EVENT


class Confirmer:
    name = "shipment-confirmer"

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        clients: spapi.SpApiClients,
        tuning: Tuning,
        published: Callable[[], None],
        redriven: Callable[[], None] = lambda: None,
    ) -> None:
        """`redriven`: after a resync put records back to pending (cancellations are the canceller's)."""
        self._pool = pool
        self._redriven = redriven
        self._clients = clients
        self._tuning = tuning
        self._published = published
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._outage = servicekit.Outage(self.name)
        self._inflight: set[asyncio.Task[None]] = set()
        self._busy: dict[str, int] = {}  # packages in flight per connection

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    claimed = await self.tick()
                    self._outage.recovered()
                except Exception as exc:
                    if not servicekit.is_outage(exc):
                        raise
                    await self._sleep(self._outage.failed(exc))
                    continue
                if not claimed:
                    await self._sleep(self._tuning.scaled(self._tuning.idle_poll).total_seconds())
        finally:
            if self._inflight:
                await asyncio.gather(*self._inflight, return_exceptions=True)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()  # a slot is free
        if not task.cancelled() and (error := task.exception()) is not None and not servicekit.is_outage(error):
            log.error("shipment package failed", exc_info=error)

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), max(seconds, 0.01))
        except TimeoutError:
            pass

    async def tick(self) -> int:
        """Claims the oldest due packages for the free slots (a claim lease keeps other replicas off them) and
        starts them; a slow seller (its rate limit) holds only its own slots, the others go on."""
        free = self._tuning.concurrency - len(self._inflight)
        if free <= 0:
            return 0
        lease = self._tuning.scaled(self._tuning.sending_lease)
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await repository.due_packages(
                conn, free, lease, self._tuning.scaled(self._tuning.apply_delay),
                per_connection=self._tuning.per_connection, busy=self._busy,
            )  # fmt: skip
            await conn.execute(
                "UPDATE packages p SET next_attempt_at = now() + $3::interval "
                "FROM unnest($1::text[], $2::int[]) AS c(shipment_id, package_index) "
                "WHERE p.shipment_id = c.shipment_id AND p.package_index = c.package_index",
                [r["shipment_id"] for r in rows], [r["package_index"] for r in rows], lease,
            )  # fmt: skip
            oldest = await repository.oldest_waiting(conn)
        OLDEST.set((datetime.now(UTC) - oldest).total_seconds() if oldest else 0)
        by_connection: dict[str, list[asyncpg.Record]] = {}
        for row in rows:
            by_connection.setdefault(row["connection_id"], []).append(row)
        passes = {
            c: _Pass(c, _trigger(batch), len(batch), [r["shipment_id"] for r in batch])
            for c, batch in by_connection.items()
        }
        # One task per order: its packages share one getOrder (or none), and are sent one after the other.
        by_order: dict[tuple[str, str], list[asyncpg.Record]] = {}
        for row in rows:
            by_order.setdefault((row["connection_id"], row["amazon_order_id"]), []).append(row)
        for (connection_id, _), group in by_order.items():
            self._busy[connection_id] = self._busy.get(connection_id, 0) + len(group)
            task = asyncio.create_task(self._tracked(group, passes[connection_id]))
            self._inflight.add(task)
            task.add_done_callback(self._done)
        async with self._pool.acquire() as conn:
            resynced = await resync_queued(conn)
        if resynced:
            self._redriven()
            self._wake.set()  # its packages are due now
        return len(rows) + int(resynced)

    async def _tracked(self, rows: list[asyncpg.Record], run: _Pass) -> None:
        _TALLY.set(run.tally)
        try:
            await self._work(rows)
        except Exception as exc:
            if not servicekit.is_outage(exc):
                run.tally.unexpected(rows[0]["shipment_id"], exc)
            raise
        finally:
            left = self._busy.get(run.connection_id, 0) - len(rows)
            if left > 0:
                self._busy[run.connection_id] = left
            else:
                self._busy.pop(run.connection_id, None)
            run.left -= len(rows)
            if run.left == 0 and run.tally.succeeded + run.tally.failed > 0:
                # Only passes that decided something are history; deferrals alone would bury them.
                async with self._pool.acquire() as conn:
                    await write_run(
                        conn, connection_id=run.connection_id, lane=Lane.CONFIRM, trigger=run.trigger,
                        tally=run.tally, keys=run.keys,
                    )  # fmt: skip

    async def _work(self, rows: list[asyncpg.Record]) -> None:
        """The due packages of one order. Amazon's order is read once for all of them, and only when it must be:
        a read-back or an unknown answer to reconcile (both due only once the apply delay has passed), or an
        order orders-ingest never showed us. Otherwise the order as orders-ingest last saw it validates."""
        first = rows[0]
        async with self._pool.acquire() as conn:
            connection = await sellers.connection(conn, first["connection_id"])
            local = await repository.order_items(conn, first["amazon_order_id"])
        if connection is None or not connection.callable:
            for row in rows:
                await self._later(row, row["state"], reason=None)
            return
        client = self._clients.for_connection(connection)
        order: spapi.Order | None = None
        if not local or any(r["state"] in ("accepted", "unknown") for r in rows):
            try:
                order = await client.orders.get_order(first["amazon_order_id"], included_data=_READ)
            except (spapi.NotFound, spapi.InvalidInput) as error:
                for row in rows:
                    if row["state"] == "pending":
                        await self._decide(row, "rejected", reason="the order is not on Amazon", error=error)
                return
            except spapi.SpApiError:
                for row in rows:
                    await self._later(row, row["state"], reason=None)
                return
            shown = {p.package_reference_id for p in order.packages or ()}
            await self._applied_elsewhere(first["amazon_order_id"], shown, rows)
        else:
            shown = set()
        for row in rows:
            if row["package_reference_id"] in shown:
                # Amazon has it: a reconciled unknown, a read-back, or a crash after the 204. Never sent again.
                await self._decide(row, "applied")
                continue
            match row["state"]:
                case "accepted":
                    if (tally := _TALLY.get(None)) is not None:
                        tally.count("read_back")
                    await self._read_back_later(row)
                case "unknown" | "pending":
                    # An unknown one Amazon does not show after its apply delay was not taken: send it again.
                    await self._send(row, client, order, local)

    async def _applied_elsewhere(self, amazon_order_id: str, shown: set[str], rows: list[asyncpg.Record]) -> None:
        """The order's other accepted packages that Amazon shows are applied now: one read serves the order."""
        claimed = {(r["shipment_id"], r["package_index"]) for r in rows}
        async with self._pool.acquire() as conn:
            others = [
                r
                for r in await repository.accepted_packages(conn, amazon_order_id, sorted(shown))
                if (r["shipment_id"], r["package_index"]) not in claimed
            ]
        for row in others:
            await self._decide(row, "applied", only_from="accepted")

    async def _send(
        self,
        row: asyncpg.Record,
        client: spapi.SpApiClient,
        order: spapi.Order | None,
        local: dict[str, domain.KnownItem],
    ) -> None:
        """Validated against Amazon's order when it was read for this pass, else against orders-ingest's."""
        lines = [domain.Line(i["order_item_id"], i["sku"], i["quantity"]) for i in json.loads(row["items"])]
        async with self._pool.acquire() as conn:
            others = await repository.in_flight(conn, row["amazon_order_id"], row["shipment_id"], row["package_index"])
        shown = {p.package_reference_id for p in order.packages or ()} if order is not None else set()
        in_flight: dict[str, int] = {}
        for other in others:
            if other["package_reference_id"] not in shown:
                for item in json.loads(other["items"]):
                    if item.get("order_item_id"):
                        in_flight[item["order_item_id"]] = in_flight.get(item["order_item_id"], 0) + item["quantity"]
        try:
            quantities = domain.resolve(
                lines,
                local=local,
                amazon=domain.amazon_items(order) if order is not None else None,
                in_flight=in_flight,
                carrier_code=row["carrier_code"],
                ship_date=row["ship_date"],
                now=datetime.now(UTC),
            )
        except domain.Rejection as rejection:
            await self._decide(row, "rejected", reason=str(rejection))
            return
        resolved = [{"order_item_id": k, "sku": None, "quantity": v} for k, v in quantities.items()]
        request = spapi.ConfirmShipmentRequest(
            marketplace_id=row["marketplace_id"],
            package_detail=spapi.PackageDetail(
                package_reference_id=row["package_reference_id"],
                carrier_code=row["carrier_code"],
                carrier_name=row["carrier_name"],
                shipping_method=row["shipping_method"],
                tracking_number=row["tracking_number"],
                ship_date=row["ship_date"],
                order_items=[
                    spapi.ConfirmShipmentOrderItem(order_item_id=k, quantity=v) for k, v in quantities.items()
                ],
            ),
        )
        # `sending` is committed before the call: a crash after it leaves a trace that is reconciled, not resent.
        async with self._pool.acquire() as conn:
            await repository.set_state(conn, row["shipment_id"], row["package_index"], "sending", items=resolved)
        try:
            await client.orders_v0.confirm_shipment(row["amazon_order_id"], request)
        except (spapi.OutcomeUnknown, spapi.RequestTimeout, spapi.ServerError) as error:
            # Amazon may have taken it: look at the order once its apply delay has passed.
            CALLS.labels("unknown").inc()
            await self._set(row, "unknown", next_in=self._tuning.scaled(self._tuning.apply_delay), error=error)
        except (spapi.Throttled, spapi.RateLimited, spapi.AuthError) as error:
            CALLS.labels("retry").inc()
            await self._later(row, "pending", reason=None, error=error)
        except spapi.SpApiError as error:
            CALLS.labels("refused").inc()
            await self._decide(row, "rejected", error=error)
        else:
            CALLS.labels("accepted").inc()
            await self._decide(row, "accepted", next_in=self._tuning.scaled(self._tuning.apply_delay))

    def _backoff(self, attempts: int) -> timedelta:
        delay = self._tuning.first_retry * 2 ** min(attempts, 10)
        return self._tuning.scaled(min(delay, self._tuning.max_retry))

    async def _later(
        self, row: asyncpg.Record, state: str, *, reason: str | None, error: spapi.SpApiError | None = None
    ) -> None:
        if (tally := _TALLY.get(None)) is not None:
            tally.count("deferred")
        await self._set(row, state, next_in=self._backoff(row["attempts"]), error=error, reason=reason)

    async def _read_back_later(self, row: asyncpg.Record) -> None:
        async with self._pool.acquire() as conn:
            looks = await conn.fetchval(
                "UPDATE packages SET attempts = attempts + 1, next_attempt_at = now() + $3::interval "
                "WHERE shipment_id = $1 AND package_index = $2 RETURNING attempts",
                row["shipment_id"], row["package_index"], self._tuning.scaled(self._tuning.apply_delay),
            )  # fmt: skip
            if looks > self._tuning.read_backs:
                # Stop looking; it stays accepted (Amazon answered 204) and an operator can see it.
                await conn.execute(
                    "UPDATE packages SET next_attempt_at = 'infinity' WHERE shipment_id = $1 AND package_index = $2",
                    row["shipment_id"], row["package_index"],
                )  # fmt: skip

    async def _set(
        self,
        row: asyncpg.Record,
        state: str,
        *,
        next_in: timedelta,
        error: spapi.SpApiError | None = None,
        reason: str | None = None,
    ) -> None:
        async with self._pool.acquire() as conn:
            await repository.set_state(
                conn,
                row["shipment_id"],
                row["package_index"],
                state,
                next_attempt_at=datetime.now(UTC) + next_in,
                reason=reason,
                **_error_fields(error),
            )

    async def _decide(
        self,
        row: asyncpg.Record,
        outcome: str,
        *,
        reason: str | None = None,
        error: spapi.SpApiError | None = None,
        next_in: timedelta | None = None,
        only_from: str | None = None,
    ) -> None:
        """`only_from`: decide only if the package is still in that state (a package this pass did not claim)."""
        async with self._pool.acquire() as conn, conn.transaction():
            # Packages of one shipment decided at once must see each other's outcome, or none publishes.
            await repository.lock_shipment(conn, row["shipment_id"])
            if only_from is not None and not await repository.in_state(
                conn, row["shipment_id"], row["package_index"], only_from
            ):
                return
            OUTCOMES.labels(outcome).inc()
            if (tally := _TALLY.get(None)) is not None:
                if outcome == "rejected":
                    tally.failure(row["shipment_id"], _why(reason, error))
                else:
                    tally.success(outcome)
            await repository.set_state(
                conn,
                row["shipment_id"],
                row["package_index"],
                outcome,
                next_attempt_at=datetime.now(UTC) + next_in if next_in is not None else None,
                reason=reason,
                **_error_fields(error),
            )
            if outcome == "accepted" and next_in is not None:
                # The order's packages accepted before this one wait for it: one read-back shows them all.
                await conn.execute(
                    "UPDATE packages SET next_attempt_at = now() + $2::interval "
                    "WHERE amazon_order_id = $1 AND state = 'accepted' AND attempts = 0 "
                    "AND next_attempt_at < now() + $2::interval",
                    row["amazon_order_id"], next_in,
                )  # fmt: skip
            sent = await publish_if_decided(conn, row["shipment_id"])
        if sent:
            self._published()


def _why(reason: str | None, error: spapi.SpApiError | None) -> str:
    """The validation reason, or Amazon's error as it answered (code: message)."""
    fields = _error_fields(error)
    if fields:
        return f"{fields['error_code']}: {fields['error_message']}" if fields["error_message"] else fields["error_code"]
    return reason or "rejected"


def _error_fields(error: spapi.SpApiError | None) -> dict[str, Any]:
    if error is None:
        return {}
    first = error.errors[0] if error.errors else None
    return {
        "error_code": first.code if first else type(error).__name__,
        "error_message": (first.message if first else str(error))[:1000] or None,
    }


async def publish_if_decided(conn: asyncpg.Connection, shipment_id: str) -> bool:
    """shipment.confirmed once every package is decided (accepted or rejected), and again once all are applied."""
    packages = await repository.shipment_packages(conn, shipment_id)
    states = {p["state"] for p in packages}
    if states <= {"applied", "rejected"}:
        stage = "final"
    elif states <= {"accepted", "applied", "rejected"}:
        stage = "decided"
    else:
        return False
    if not await repository.mark_published(conn, shipment_id, stage):
        return False
    first = packages[0]
    data = contracts.ShipmentConfirmedV1(
        shipment_id=shipment_id,
        connection_id=first["connection_id"],
        marketplace_id=first["marketplace_id"],
        amazon_order_id=first["amazon_order_id"],
        packages=[
            contracts.PackageConfirmationV1(
                package_reference_id=p["package_reference_id"],
                carrier_code=p["carrier_code"],
                carrier_name=p["carrier_name"],
                tracking_number=p["tracking_number"],
                ship_date=p["ship_date"],
                outcome="rejected" if p["state"] == "rejected" else "accepted",
                verification="applied" if p["state"] == "applied" else None,
                # An accepted package keeps its history (an unknown answer reconciled) in admin, not on the event.
                error_code=p["error_code"] if p["state"] == "rejected" else None,
                error_message=p["error_message"] if p["state"] == "rejected" else None,
                reason=p["reason"] if p["state"] == "rejected" else None,
            )
            for p in packages
        ],
        confirmed_at=datetime.now(UTC),
    )
    revision = f"{stage}-{max(p['decided_at'] for p in packages).isoformat()}"
    await messaging.add(conn, contracts.new_event("shipment.confirmed", data, source=SERVICE, revision=revision))
    return True
