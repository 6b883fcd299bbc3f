"""shipment-relay's part of the synchistory lib: its lanes, its triggers, and how a resync re-drives a run.

There is nothing to poll here (work arrives as events), so the lib's Lanes/Scheduler are not used: each pass of
the confirmer that decides packages, each cancellation feed that ends and each `completed` order with items never
confirmed is written as a finished run. Operators' resyncs are queued runs that `Resyncs` claims and re-drives.
"""

from __future__ import annotations

from enum import StrEnum

import asyncpg
import servicekit
import synchistory

from shipment_relay import repository


class Lane(StrEnum):
    CONFIRM = "confirm"  # confirmShipment passes; record key: shipment id
    CANCEL = "cancel"  # acknowledgement feeds; record key: amazon order id
    COMPLETION = "completion"  # order.completed `completed` checks; record key: amazon order id


class RelayTrigger(StrEnum):
    EVENT = "event"  # packages of a new shipment.created, a cancellation or completion from order.completed
    RETRY = "retry"  # packages sent again: after a throttle, an unknown answer or an operator's retry


HISTORY = synchistory.SyncHistory("shipment-relay", lanes=Lane, triggers=RelayTrigger)


async def write_run(
    conn: asyncpg.Connection,
    *,
    connection_id: str,
    lane: Lane,
    trigger: StrEnum,
    tally: synchistory.Tally,
    keys: list[str],
    error: str | None = None,
) -> int:
    """A run that already happened, in the caller's transaction (with the effects it counts) or its own."""
    async with conn.transaction():
        run = await HISTORY.start_run(
            conn, connection_id=connection_id, trigger=trigger, lane=lane, record_keys=sorted(set(keys)) or None
        )
        await HISTORY.record(conn, run.id, tally)
        await HISTORY.finish_run(conn, run.id, error=error)
    return run.id


async def redrive(conn: asyncpg.Connection, run: synchistory.Run) -> synchistory.Tally:
    """The failed records of the run being resynced go again: rejected packages and cancellations back to
    pending (as POST /admin/shipments/{id}/retry does); what succeeded is never sent again."""
    tally = synchistory.Tally()
    original = await HISTORY.get_run(conn, run.resync_of) if run.resync_of is not None else None
    if original is None:
        return tally
    failed = {e["record_key"] for e in await HISTORY.run_errors(conn, original["id"]) if e["record_key"]}
    for key in sorted(failed & set(run.record_keys or ())):
        match original["lane"]:
            case Lane.CONFIRM:
                shipment = await repository.shipment(conn, key)
                if shipment is None:
                    tally.failure(key, "shipment not known")
                elif await repository.retry(conn, key):
                    tally.success("requeued")
                else:
                    tally.success("nothing_to_redrive")
            case Lane.CANCEL:
                moved = await conn.fetchval(
                    "UPDATE cancellations SET state = 'pending', feed_id = NULL, message_id = NULL, result = NULL, "
                    "sent_at = NULL "
                    "WHERE amazon_order_id = $1 AND state = 'rejected' RETURNING true",
                    key,
                )
                tally.success("requeued" if moved else "nothing_to_redrive")
            case _:
                # A completed order cannot be confirmed from here: the WMS must send its shipment.
                tally.failure(key, "completed with items never confirmed: send their shipment.created")
    return tally


async def resync_queued(conn: asyncpg.Connection) -> bool:
    """Claims, re-drives and ends one queued resync run (of any connection) in one transaction, so a crash
    leaves it queued, never `running`; True when there was one."""
    # The lib claims per connection and lane; which connections have a queued run it does not say.
    connection_id = await conn.fetchval(
        "SELECT connection_id FROM sync_history_runs WHERE status = 'queued' AND lane = $1 ORDER BY id LIMIT 1",
        Lane.CONFIRM.value,
    )
    if connection_id is None:
        return False
    async with conn.transaction():
        run = await HISTORY.claim_queued(conn, connection_id, Lane.CONFIRM)
        if run is None:
            return False
        error = None
        try:
            async with conn.transaction():
                await HISTORY.record(conn, run.id, await redrive(conn, run))
        except Exception as exc:
            if servicekit.is_outage(exc):
                raise
            error = synchistory.describe(exc)
        await HISTORY.finish_run(conn, run.id, error=error)
    return True
