"""Admin HTTP routes: sync history (the synchistory lib's routes), forced stock syncs and what happened to a SKU.

Roles: viewers read; operators start runs. Nothing here is PII (SKUs, quantities, Amazon's issues).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
import sellers
import synchistory
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from servicekit import Principal, Problem, Role, problem_responses, require_role

from stock_publisher import domain, repository
from stock_publisher.sync_history import HISTORY, Lane, StockTrigger

log = logging.getLogger(__name__)

Viewer = Annotated[Principal, Depends(require_role(Role.viewer))]
Operator = Annotated[Principal, Depends(require_role(Role.operator))]

# stock-publisher's finer counts of a run, shown as records_<name>.
COUNTS = (
    "considered", "unchanged", "in_flight", "in_feed", "accepted", "applied", "drifted", "read_by_item",
    "read_by_report",
)  # fmt: skip


def run_view(run: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id", "connection_id", "trigger", "lane", "status", "requested_by", "created_at", "started_at", "ended_at",
        "records_succeeded", "records_failed", "error",
    )  # fmt: skip
    view = {k: run[k] for k in keys}
    view["skus"] = run["record_keys"]
    view.update({f"records_{name}": int(run["counts"].get(name, 0)) for name in COUNTS})
    return view


def error_view(error: dict[str, Any]) -> dict[str, Any]:
    return {"sku": error["record_key"], "error": error["error"], "at": error["at"]}


async def admission(conn: asyncpg.Connection, connection_id: str) -> synchistory.Refusal | None:
    connection = await sellers.connection(conn, connection_id)
    if connection is None:
        return synchistory.UNKNOWN_CONNECTION
    if not connection.callable:
        return synchistory.Refusal(409, f"connection is {connection.status.value}; only active connections sync")
    if not connection.settings.stock_sync_enabled:
        return synchistory.Refusal(409, "stock sync is switched off for this connection")
    return None


class StockSyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skus: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(
        default=None, min_length=1, max_length=25_000, description="SKUs to send; omitted: every SKU."
    )


class HandlingTimeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Required, so that `{}` is refused rather than read as "clear it".
    handling_time_days: int | None = Field(
        ge=1, le=30, description="Days to ship (lead_time_to_ship_max_days, 1..30); null: the connection's default."
    )


def create_routers(pool: asyncpg.Pool, queued: Callable[[], None]) -> list[APIRouter]:
    # sync-now and resyncs push what differs; stock-sync sends even what Amazon already has.
    history = synchistory.sync_routes(
        pool,
        HISTORY,
        synchistory.SyncAdmin(
            lane=Lane.PUSH, admission=admission, queued=queued, run_view=run_view, error_view=error_view
        ),
    )
    admin = APIRouter(prefix="/admin", tags=["admin"])

    @admin.post("/connections/{connection_id}/stock-sync", status_code=202, responses=problem_responses(404, 409))
    async def stock_sync(connection_id: str, body: StockSyncRequest, who: Operator) -> dict[str, Any]:
        """Sends the connection's SKUs (all, or those listed) to Amazon even if Amazon already has them."""
        async with pool.acquire() as conn, conn.transaction():
            refusal = await admission(conn, connection_id)
            if refusal is not None:
                raise Problem(refusal.status, refusal.detail)
            run = await HISTORY.queue_run(
                conn, connection_id=connection_id, trigger=StockTrigger.STOCK_SYNC, lane=Lane.PUSH,
                record_keys=body.skus, requested_by=who.name,
            )  # fmt: skip
        queued()
        return {"run_id": run.id, "connection_id": connection_id, "skus": body.skus}

    @admin.put("/connections/{connection_id}/skus/{sku:path}/handling-time", responses=problem_responses(404))
    async def handling_time(connection_id: str, sku: str, body: HandlingTimeRequest, who: Operator) -> dict[str, Any]:
        """Sets the SKU's own handling time (null clears it); a changed value is sent with the next push."""
        async with pool.acquire() as conn, conn.transaction():
            if not await repository.set_handling_time(conn, connection_id, sku, body.handling_time_days):
                raise Problem(404, "the connection has no listing with this SKU")
            connection = await sellers.connection(conn, connection_id)
            if connection is not None and domain.near_real_time(connection.settings):
                now = datetime.now(UTC)
                await repository.push_due_by(conn, connection_id, now)
                await HISTORY.due(conn, connection_id, Lane.PUSH, now)
        queued()
        log.info("handling time override set", extra={"connection_id": connection_id, "by": who.name})
        return {"connection_id": connection_id, "sku": sku, "handling_time_days": body.handling_time_days}

    @admin.get("/skus/{sku}", responses=problem_responses(404))
    async def sku(sku: str, _: Viewer) -> dict[str, Any]:
        """Quantity per warehouse, listings, and per connection what was sent, accepted and applied, and when."""
        async with pool.acquire() as conn:
            view = await repository.sku_view(conn, sku)
        if view is None:
            raise Problem(404, "SKU not known")
        return view

    return [history, admin]
