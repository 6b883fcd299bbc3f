"""Admin and notification HTTP routes: sync history, resync, custom-range and immediate syncs, ORDER_CHANGE intake.

Roles: viewers read history and bookkeeping; operators start runs. Responses never contain PII (the service
stores none).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from servicekit import Principal, Role, require_role

from orders_ingest import repository
from orders_ingest.notifications import InvalidNotification, NotificationIntake

Viewer = Annotated[Principal, Depends(require_role(Role.viewer))]
Operator = Annotated[Principal, Depends(require_role(Role.operator))]


class ResyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    replay: bool = False


class RangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime
    replay: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> RangeRequest:
        if self.to <= self.from_:
            raise ValueError("'to' must be after 'from'")
        if self.to > datetime.now(UTC):
            raise ValueError("'to' must not be in the future (Amazon: at least two minutes before now)")
        return self


def _run_view(run: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id", "connection_id", "trigger", "status", "replay", "window_from", "window_to", "order_ids", "resync_of",
        "requested_by", "created_at", "started_at", "ended_at", "records_fetched", "records_published",
        "records_unchanged", "records_skipped", "records_failed", "error",
    )  # fmt: skip
    view = {k: run[k] for k in keys}
    view["records_succeeded"] = run["records_published"] + run["records_unchanged"] + run["records_skipped"]
    return view


def create_routers(pool: asyncpg.Pool, intake: NotificationIntake, queued: Callable[[], None]) -> list[APIRouter]:
    admin = APIRouter(prefix="/admin", tags=["admin"])
    public = APIRouter(tags=["notifications"])

    @admin.get("/sync-runs")
    async def list_sync_runs(
        _: Viewer,
        connection_id: str | None = None,
        status: Literal["queued", "running", "succeeded", "failed"] | None = None,
        trigger: str | None = None,
        before_id: int | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            runs = await repository.list_runs(
                conn, connection_id=connection_id, status=status, trigger=trigger, before_id=before_id, limit=limit
            )
        return [_run_view(r) for r in runs]

    @admin.get("/sync-runs/{run_id}")
    async def get_sync_run(run_id: int, _: Viewer) -> dict[str, Any]:
        async with pool.acquire() as conn:
            run = await repository.get_run(conn, run_id)
            if run is None:
                raise HTTPException(404, "no such sync run")
            errors = await repository.run_errors(conn, run_id)
        return {**_run_view(run), "errors": errors}

    @admin.post("/sync-runs/{run_id}/resync", status_code=202)
    async def resync(run_id: int, who: Operator, body: ResyncRequest | None = None) -> dict[str, Any]:
        """Reads the run's window (or its orders) from Amazon again; publishes what is new or failed before,
        and with `replay` also what was published already (same event ids)."""
        replay = body.replay if body else False
        async with pool.acquire() as conn, conn.transaction():
            run = await repository.get_run(conn, run_id)
            if run is None:
                raise HTTPException(404, "no such sync run")
            if run["status"] in ("queued", "running"):
                raise HTTPException(409, f"run {run_id} is {run['status']}; resync it once it has ended")
            await _active_connection(conn, run["connection_id"])
            if run["order_ids"] is None and run["window_from"] is None:
                raise HTTPException(409, f"run {run_id} ended before it read anything; use a custom-range sync")
            new_id = await repository.queue_run(
                conn,
                connection_id=run["connection_id"],
                trigger="resync",
                replay=replay,
                window_from=run["window_from"] if run["order_ids"] is None else None,
                window_to=run["window_to"] if run["order_ids"] is None else None,
                order_ids=run["order_ids"],
                resync_of=run_id,
                requested_by=who.name,
            )
            created = await repository.get_run(conn, new_id)
        queued()
        assert created is not None
        return _run_view(created)

    @admin.post("/connections/{connection_id}/sync", status_code=202)
    async def sync_range(connection_id: str, body: RangeRequest, who: Operator) -> dict[str, Any]:
        async with pool.acquire() as conn, conn.transaction():
            await _active_connection(conn, connection_id)
            new_id = await repository.queue_run(
                conn,
                connection_id=connection_id,
                trigger="custom_range",
                replay=body.replay,
                window_from=body.from_,
                window_to=body.to,
                requested_by=who.name,
            )
            created = await repository.get_run(conn, new_id)
        queued()
        assert created is not None
        return _run_view(created)

    @admin.post("/connections/{connection_id}/sync-now", status_code=202)
    async def sync_now(connection_id: str, who: Operator) -> dict[str, Any]:
        """A poll from the watermark now, as the schedule would do it (and moving the schedule on)."""
        async with pool.acquire() as conn, conn.transaction():
            await _active_connection(conn, connection_id)
            new_id = await repository.queue_run(
                conn, connection_id=connection_id, trigger="manual", requested_by=who.name
            )
            created = await repository.get_run(conn, new_id)
        queued()
        assert created is not None
        return _run_view(created)

    @admin.get("/connections")
    async def list_connections(_: Viewer) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            found = await repository.connections(conn)
        return [
            {
                "connection_id": c.connection_id,
                "status": c.status.value,
                "selling_partner_id": c.selling_partner_id,
                "marketplace_ids": c.marketplace_ids,
                "order_import": c.settings.order_import.value,
                "order_poll_interval_minutes": c.settings.order_poll_interval_minutes,
                "watermark": s.watermark if s else None,
                "next_poll_at": s.next_poll_at if s else None,
                "consecutive_failures": s.failures if s else None,
            }
            for c, s in found
        ]

    @admin.get("/orders/{amazon_order_id}")
    async def order_bookkeeping(amazon_order_id: str, _: Viewer) -> dict[str, Any]:
        """What this service knows of an order: revisions published, status and items. No PII."""
        async with pool.acquire() as conn:
            order = await repository.order_history(conn, amazon_order_id)
        if order is None:
            raise HTTPException(404, "order not imported")
        return order

    @public.post("/notifications", status_code=202)
    async def order_change(request: Request) -> JSONResponse:
        """ORDER_CHANGE (Amazon's JSON document, as SQS/EventBridge deliver it): fetch that order now."""
        try:
            document = await request.json()
        except ValueError:
            return JSONResponse({"detail": "body is not JSON"}, 400)
        try:
            answer = await intake.accept(document)
        except InvalidNotification as exc:
            return JSONResponse({"detail": "not a valid ORDER_CHANGE notification", "errors": exc.problems}, 400)
        return JSONResponse(answer, 202)

    return [admin, public]


async def _active_connection(conn: asyncpg.Connection, connection_id: str) -> None:
    connection = await repository.connection(conn, connection_id)
    if connection is None:
        raise HTTPException(404, "unknown connection")
    if not connection.callable:
        raise HTTPException(409, f"connection is {connection.status.value}; only active connections sync")
