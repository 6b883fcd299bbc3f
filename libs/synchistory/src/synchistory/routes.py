"""The admin routes of sync history, which each service mounts with its own hooks (`SyncAdmin`).

Viewers read runs; operators start them. Unknown run -> 404; a run still queued or running cannot be resynced
(409); the service's `admission` says which connection may sync (404 unknown, 409 e.g. inactive).
"""

# No `from __future__ import annotations`: FastAPI reads these endpoints' annotations, some of them local.

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from servicekit import Principal, Problem, Role, problem_responses, require_role

from synchistory.history import OPEN, RunStatus, SyncHistory, Trigger

MAX_ID = 2**63 - 1  # bigserial
MAX_CONNECTION_ID = 200


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a connection may not sync now: 404 for an unknown one, 409 for one that exists but may not."""

    status: int
    detail: str


UNKNOWN_CONNECTION = Refusal(404, "unknown connection")

Admission = Callable[[asyncpg.Connection, str], Awaitable[Refusal | None]]
View = Callable[[dict[str, Any]], dict[str, Any]]


def run_view(run: dict[str, Any]) -> dict[str, Any]:
    return dict(run)


def error_view(error: dict[str, Any]) -> dict[str, Any]:
    return dict(error)


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncAdmin:
    """A service's part in the routes."""

    lane: StrEnum  # the lane of the runs an operator asks for
    admission: Admission
    queued: Callable[[], None] = lambda: None  # after a run was queued: wake this process's scheduler
    replay: bool = False  # offer `replay` (publish again what was published already) in request bodies
    run_view: View = run_view  # the service's names for a run's fields (e.g. its finer counts)
    error_view: View = error_view


class _Range(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: AwareDatetime = Field(alias="from", description="Start of the window (RFC 3339 with offset)")
    to: AwareDatetime = Field(description="End of the window: after `from`, not in the future")

    @model_validator(mode="after")
    def _ordered(self) -> "_Range":
        if self.to <= self.from_:
            raise ValueError("'to' must be after 'from'")
        if self.to > datetime.now(UTC):
            raise ValueError("'to' must not be in the future")
        return self


class RangeRequest(_Range):
    pass


class ReplayRangeRequest(_Range):
    replay: bool = Field(default=False, description="Publish again what was published already (same event ids)")


class PlainResyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResyncRequest(PlainResyncRequest):
    replay: bool = Field(default=False, description="Publish again what was published already (same event ids)")


def sync_routes(pool: asyncpg.Pool, history: SyncHistory, admin: SyncAdmin) -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["sync history"])
    viewer = Annotated[Principal, Depends(require_role(Role.viewer))]
    operator = Annotated[Principal, Depends(require_role(Role.operator))]
    run_id_path = Annotated[int, Path(ge=1, le=MAX_ID)]
    connection_path = Annotated[str, Path(min_length=1, max_length=MAX_CONNECTION_ID)]
    triggers = history.triggers
    range_body = ReplayRangeRequest if admin.replay else RangeRequest
    resync_body = ResyncRequest if admin.replay else PlainResyncRequest
    found = problem_responses(404)
    refused = problem_responses(404, 409)

    async def queue(conn: asyncpg.Connection, **fields: Any) -> dict[str, Any]:
        run = await history.queue_run(conn, lane=admin.lane, **fields)
        created = await history.get_run(conn, run.id)
        assert created is not None
        return admin.run_view(created)

    async def admit(conn: asyncpg.Connection, connection_id: str) -> None:
        refusal = await admin.admission(conn, connection_id)
        if refusal is not None:
            raise Problem(refusal.status, refusal.detail)

    @router.get("/sync-runs", summary="Sync runs, newest first")
    async def list_sync_runs(
        _: viewer,
        connection_id: Annotated[str | None, Query(min_length=1, max_length=MAX_CONNECTION_ID)] = None,
        status: RunStatus | None = None,
        trigger: triggers | None = None,  # type: ignore[valid-type]
        before_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Page on: the last id seen")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            runs = await history.list_runs(
                conn,
                connection_id=connection_id,
                status=status,
                trigger=history.trigger(trigger.value) if trigger is not None else None,
                before_id=before_id,
                limit=limit,
            )
        return [admin.run_view(r) for r in runs]

    @router.get("/sync-runs/{run_id}", summary="One sync run, with its per-record errors", responses=found)
    async def get_sync_run(run_id: run_id_path, _: viewer) -> dict[str, Any]:
        async with pool.acquire() as conn:
            run = await history.get_run(conn, run_id)
            if run is None:
                raise Problem(404, "no such sync run")
            errors = await history.run_errors(conn, run_id)
        return {**admin.run_view(run), "errors": [admin.error_view(e) for e in errors]}

    @router.post(
        "/sync-runs/{run_id}/resync",
        status_code=202,
        summary="Resync a run",
        description="Reads the run's window (or its records) again; what is new or failed before is synced.",
        responses=refused,
    )
    async def resync(
        run_id: run_id_path,
        who: operator,
        body: Annotated[resync_body | None, Body()] = None,  # type: ignore[valid-type]
    ) -> dict[str, Any]:
        replay = bool(getattr(body, "replay", False))
        async with pool.acquire() as conn, conn.transaction():
            run = await history.get_run(conn, run_id)
            if run is None:
                raise Problem(404, "no such sync run")
            if run["status"] in OPEN:
                raise Problem(409, f"run {run_id} is {run['status']}; resync it once it has ended")
            await admit(conn, run["connection_id"])
            keys = run["record_keys"]
            if keys is None and run["window_from"] is None:
                raise Problem(409, f"run {run_id} ended before it read anything; use a custom-range sync")
            created = await queue(
                conn,
                connection_id=run["connection_id"],
                trigger=Trigger.RESYNC,
                replay=replay,
                window_from=run["window_from"] if keys is None else None,
                window_to=run["window_to"] if keys is None else None,
                record_keys=keys,
                resync_of=run_id,
                requested_by=who.name,
            )
        admin.queued()
        return created

    @router.post(
        "/connections/{connection_id}/sync", status_code=202, summary="Sync a custom time range", responses=refused
    )
    async def sync_range(
        connection_id: connection_path,
        body: Annotated[range_body, Body()],  # type: ignore[valid-type]
        who: operator,
    ) -> dict[str, Any]:
        window: _Range = body
        async with pool.acquire() as conn, conn.transaction():
            await admit(conn, connection_id)
            created = await queue(
                conn,
                connection_id=connection_id,
                trigger=Trigger.CUSTOM_RANGE,
                replay=getattr(window, "replay", False),
                window_from=window.from_,
                window_to=window.to,
                requested_by=who.name,
            )
        admin.queued()
        return created

    @router.post(
        "/connections/{connection_id}/sync-now",
        status_code=202,
        summary="Sync now, as the schedule would",
        responses=refused,
    )
    async def sync_now(connection_id: connection_path, who: operator) -> dict[str, Any]:
        async with pool.acquire() as conn, conn.transaction():
            await admit(conn, connection_id)
            created = await queue(conn, connection_id=connection_id, trigger=Trigger.MANUAL, requested_by=who.name)
        admin.queued()
        return created

    return router
