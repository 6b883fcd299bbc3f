"""The runs of one service's sync: queue, start, count, finish, recover, list and purge them.

Every method takes the caller's connection and never commits. The tables are the lib's (`MIGRATIONS_DIR`), in
the service's schema; triggers and lanes are StrEnums, the lib's `Trigger` plus whatever the service declares.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypedDict, Unpack

import asyncpg

from synchistory.tally import Tally

MAX_ERROR_TEXT = 1000


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


OPEN = (RunStatus.QUEUED, RunStatus.RUNNING)


class Trigger(StrEnum):
    """What started a run, as far as the lib knows; a service adds its own triggers as another StrEnum."""

    SCHEDULED = "scheduled"
    MANUAL = "manual"  # POST /admin/connections/{id}/sync-now
    RESYNC = "resync"  # POST /admin/sync-runs/{id}/resync
    CUSTOM_RANGE = "custom_range"  # POST /admin/connections/{id}/sync


# An operator asked for these: a run of them that a dead process left behind is queued again.
REQUESTED = frozenset({Trigger.MANUAL, Trigger.RESYNC, Trigger.CUSTOM_RANGE})

INTERRUPTED = "interrupted: the process running it stopped; its work is redone by a new run"


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    id: int
    connection_id: str
    trigger: StrEnum
    lane: StrEnum
    status: RunStatus
    replay: bool
    window_from: datetime | None
    window_to: datetime | None
    record_keys: list[str] | None  # a run over explicit records (order ids, SKUs); None: a run over a window
    resync_of: int | None
    requested_by: str | None


class RunSpec(TypedDict, total=False):
    """What a run covers and who asked: a window, or explicit records (order ids, SKUs)."""

    replay: bool
    window_from: datetime | None
    window_to: datetime | None
    record_keys: list[str] | None
    resync_of: int | None
    requested_by: str | None


@dataclass(frozen=True, slots=True)
class Recovered:
    interrupted: list[int]
    requeued: list[int]


_COLUMNS = (
    "id, connection_id, trigger, lane, status, replay, window_from, window_to, record_keys, resync_of, requested_by"
)


class SyncHistory:
    """One service's sync history. `lanes` and `triggers` are its enums; `service` names its advisory locks."""

    def __init__(self, service: str, *, lanes: type[StrEnum], triggers: type[StrEnum] | None = None) -> None:
        self.service = service
        self.lanes = lanes
        members = [*Trigger, *(triggers or [])]
        self._triggers: dict[str, StrEnum] = {}
        for member in members:
            if member.value in self._triggers:
                raise ValueError(f"trigger {member.value!r} is declared twice")
            self._triggers[member.value] = member
        self._lanes: dict[str, StrEnum] = {m.value: m for m in lanes}
        # One enum of every trigger, for the OpenAPI of the admin routes' filter.
        self.triggers: type[StrEnum] = StrEnum("SyncTrigger", {m.name: m.value for m in members})  # type: ignore[misc]

    def trigger(self, value: str) -> StrEnum:
        return self._triggers[value]

    def lane(self, value: str) -> StrEnum:
        return self._lanes[value]

    def lock_key(self, connection_id: str, lane: StrEnum) -> int:
        """The advisory-lock key of one connection's lane: one replica at a time works it."""
        digest = hashlib.sha256(f"{self.service}:{lane.value}:{connection_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def _check(self, trigger: StrEnum, lane: StrEnum) -> None:
        if self._triggers.get(trigger.value) is not trigger:
            raise ValueError(f"trigger {trigger.value!r} is not one of this service's")
        if self._lanes.get(lane.value) is not lane:
            raise ValueError(f"lane {lane.value!r} is not one of this service's")

    def _run(self, row: asyncpg.Record) -> Run:
        return Run(
            id=row["id"],
            connection_id=row["connection_id"],
            trigger=self.trigger(row["trigger"]),
            lane=self.lane(row["lane"]),
            status=RunStatus(row["status"]),
            replay=row["replay"],
            window_from=row["window_from"],
            window_to=row["window_to"],
            record_keys=list(row["record_keys"]) if row["record_keys"] is not None else None,
            resync_of=row["resync_of"],
            requested_by=row["requested_by"],
        )

    # --- starting runs -------------------------------------------------------------------------------

    async def queue_run(
        self, conn: asyncpg.Connection, *, connection_id: str, trigger: StrEnum, lane: StrEnum, **what: Unpack[RunSpec]
    ) -> Run:
        """A run for the lane to start when it next runs; the lane is due now."""
        run = await self._insert(conn, RunStatus.QUEUED, connection_id, trigger, lane, what)
        await self.nudge(conn, connection_id, lane)
        return run

    async def start_run(
        self, conn: asyncpg.Connection, *, connection_id: str, trigger: StrEnum, lane: StrEnum, **what: Unpack[RunSpec]
    ) -> Run:
        """A run that starts now; only the holder of the lane's lock calls this."""
        return await self._insert(conn, RunStatus.RUNNING, connection_id, trigger, lane, what)

    async def _insert(
        self,
        conn: asyncpg.Connection,
        status: RunStatus,
        connection_id: str,
        trigger: StrEnum,
        lane: StrEnum,
        what: RunSpec,
    ) -> Run:
        self._check(trigger, lane)
        row = await conn.fetchrow(
            f"""INSERT INTO sync_history_runs (connection_id, trigger, lane, status, replay, window_from, window_to,
                                               record_keys, resync_of, requested_by, started_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, CASE WHEN $4 = $11 THEN now() END)
                RETURNING {_COLUMNS}""",
            connection_id,
            trigger.value,
            lane.value,
            status.value,
            what.get("replay", False),
            what.get("window_from"),
            what.get("window_to"),
            what.get("record_keys"),
            what.get("resync_of"),
            what.get("requested_by"),
            RunStatus.RUNNING.value,
        )
        return self._run(row)

    async def claim_queued(self, conn: asyncpg.Connection, connection_id: str, lane: StrEnum) -> Run | None:
        """Starts the lane's oldest queued run, if any."""
        row = await conn.fetchrow(
            f"""UPDATE sync_history_runs SET status = $3, started_at = now()
                WHERE id = (SELECT id FROM sync_history_runs WHERE connection_id = $1 AND lane = $2 AND status = $4
                            ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING {_COLUMNS}""",
            connection_id,
            lane.value,
            RunStatus.RUNNING.value,
            RunStatus.QUEUED.value,
        )
        return self._run(row) if row else None

    async def has_queued(self, conn: asyncpg.Connection, connection_id: str, lane: StrEnum) -> bool:
        found = await conn.fetchval(
            "SELECT 1 FROM sync_history_runs WHERE connection_id = $1 AND lane = $2 AND status = $3 LIMIT 1",
            connection_id,
            lane.value,
            RunStatus.QUEUED.value,
        )
        return found is not None

    # --- while it runs -------------------------------------------------------------------------------

    async def set_window(
        self, conn: asyncpg.Connection, run_id: int, window_from: datetime, window_to: datetime | None
    ) -> None:
        await conn.execute(
            "UPDATE sync_history_runs SET window_from = $2, window_to = $3 WHERE id = $1",
            run_id,
            window_from,
            window_to,
        )

    async def record(self, conn: asyncpg.Connection, run_id: int, tally: Tally) -> None:
        """Adds a batch's outcomes to the run, in the transaction that wrote the batch's effects."""
        if tally.errors:
            await conn.executemany(
                "INSERT INTO sync_history_errors (run_id, record_key, error) VALUES ($1, $2, $3)",
                [(run_id, e.record_key, e.error[:MAX_ERROR_TEXT]) for e in tally.errors],
            )
        await conn.execute(
            """UPDATE sync_history_runs SET records_succeeded = records_succeeded + $2,
                      records_failed = records_failed + $3,
                      counts = (SELECT coalesce(jsonb_object_agg(key, total), '{}') FROM (
                                    SELECT key, sum(value::bigint) AS total
                                    FROM (SELECT * FROM jsonb_each_text(counts)
                                          UNION ALL SELECT * FROM jsonb_each_text($4::jsonb)) parts
                                    GROUP BY key) summed)
               WHERE id = $1""",
            run_id,
            tally.succeeded,
            tally.failed,
            json.dumps(tally.counts),
        )

    async def finish_run(self, conn: asyncpg.Connection, run_id: int, *, error: str | None) -> RunStatus:
        """Succeeded when neither the run nor any of its records failed."""
        status: str = await conn.fetchval(
            """UPDATE sync_history_runs SET ended_at = now(), error = $2,
                      status = CASE WHEN $2::text IS NULL AND records_failed = 0 THEN $3 ELSE $4 END
               WHERE id = $1 RETURNING status""",
            run_id,
            error[:MAX_ERROR_TEXT] if error else None,
            RunStatus.SUCCEEDED.value,
            RunStatus.FAILED.value,
        )
        return RunStatus(status)

    async def recover(self, conn: asyncpg.Connection, connection_id: str, lane: StrEnum) -> Recovered:
        """Closes runs a dead process left `running`; requested ones are queued again as new runs.

        Only the holder of the lane's lock calls this, so no live process is running them.
        """
        rows = await conn.fetch(
            """UPDATE sync_history_runs SET status = $3, ended_at = now(), error = $4
               WHERE connection_id = $1 AND lane = $2 AND status = $5 RETURNING id, trigger""",
            connection_id,
            lane.value,
            RunStatus.FAILED.value,
            INTERRUPTED,
            RunStatus.RUNNING.value,
        )
        again = [r["id"] for r in rows if r["trigger"] in REQUESTED]
        requeued = [
            r["id"]
            for r in await conn.fetch(
                """INSERT INTO sync_history_runs (connection_id, trigger, lane, status, replay, window_from,
                                                  window_to, record_keys, resync_of, requested_by)
                   SELECT connection_id, trigger, lane, $2, replay, window_from, window_to, record_keys, resync_of,
                          requested_by FROM sync_history_runs WHERE id = ANY($1::bigint[]) ORDER BY id
                   RETURNING id""",
                again,
                RunStatus.QUEUED.value,
            )
        ] if again else []  # fmt: skip
        return Recovered(interrupted=[r["id"] for r in rows], requeued=requeued)

    # --- reading -------------------------------------------------------------------------------------

    async def get_run(self, conn: asyncpg.Connection, run_id: int) -> dict[str, Any] | None:
        row = await conn.fetchrow("SELECT * FROM sync_history_runs WHERE id = $1", run_id)
        return _plain(row) if row else None

    async def list_runs(
        self,
        conn: asyncpg.Connection,
        *,
        connection_id: str | None = None,
        status: RunStatus | None = None,
        trigger: StrEnum | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Newest first; page on with `before_id` = the last id seen."""
        rows = await conn.fetch(
            """SELECT * FROM sync_history_runs
               WHERE ($1::text IS NULL OR connection_id = $1) AND ($2::text IS NULL OR status = $2)
                 AND ($3::text IS NULL OR trigger = $3) AND ($4::bigint IS NULL OR id < $4)
               ORDER BY id DESC LIMIT $5""",
            connection_id,
            status.value if status else None,
            trigger.value if trigger else None,
            before_id,
            limit,
        )
        return [_plain(r) for r in rows]

    async def run_errors(self, conn: asyncpg.Connection, run_id: int) -> list[dict[str, Any]]:
        rows = await conn.fetch(
            "SELECT record_key, error, at FROM sync_history_errors WHERE run_id = $1 ORDER BY id", run_id
        )
        return [dict(r) for r in rows]

    async def purge(self, conn: asyncpg.Connection, *, succeeded: timedelta, failed: timedelta) -> int:
        """Deletes runs past retention (their errors go with them); returns how many."""
        deleted: int = await conn.fetchval(
            """WITH gone AS (
                   DELETE FROM sync_history_runs
                   WHERE (status = $3 AND ended_at < now() - $1::interval)
                      OR (status = $4 AND ended_at < now() - $2::interval)
                   RETURNING 1)
               SELECT count(*) FROM gone""",
            succeeded,
            failed,
            RunStatus.SUCCEEDED.value,
            RunStatus.FAILED.value,
        )
        return deleted

    # --- when lanes are due --------------------------------------------------------------------------

    async def nudge(self, conn: asyncpg.Connection, connection_id: str, lane: StrEnum) -> None:
        """The lane has work now (a queued run, a notification, a new connection). Call the scheduler's `wake`
        after the commit, so this process starts it at once; other replicas find it when they next look."""
        await self.due(conn, connection_id, lane, None)

    async def due(self, conn: asyncpg.Connection, connection_id: str, lane: StrEnum, at: datetime | None) -> None:
        """The lane has work at `at` (None: now), unless it is due earlier already."""
        if self._lanes.get(lane.value) is not lane:
            raise ValueError(f"lane {lane.value!r} is not one of this service's")
        await conn.execute(
            """INSERT INTO sync_lanes AS l (connection_id, lane, due_at, nudges)
               VALUES ($1, $2, coalesce($3, now()), 1)
               ON CONFLICT (connection_id, lane) DO UPDATE
               SET due_at = LEAST(l.due_at, excluded.due_at), nudges = l.nudges + 1""",
            connection_id,
            lane.value,
            at,
        )


def _plain(row: asyncpg.Record) -> dict[str, Any]:
    run = dict(row)
    counts = run["counts"]
    run["counts"] = json.loads(counts) if isinstance(counts, str) else dict(counts)
    return run
