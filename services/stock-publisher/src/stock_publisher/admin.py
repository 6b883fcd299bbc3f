"""Admin HTTP routes: sync history (the synchistory lib's routes), forced stock syncs and what happened to a SKU.

Roles: viewers read; operators start runs. Nothing here is PII (SKUs, quantities, Amazon's issues).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import asyncpg
import sellers
import synchistory
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from servicekit import Principal, Problem, Role, problem_responses, require_role

from stock_publisher import repository
from stock_publisher.sync_history import HISTORY, Lane, StockTrigger

Viewer = Annotated[Principal, Depends(require_role(Role.viewer))]
Operator = Annotated[Principal, Depends(require_role(Role.operator))]

# stock-publisher's finer counts of a run, shown as records_<name>.
COUNTS = ("considered", "unchanged", "in_flight", "in_feed", "accepted", "applied", "drifted")


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

    @admin.get("/skus/{sku}", responses=problem_responses(404))
    async def sku(sku: str, _: Viewer) -> dict[str, Any]:
        """Quantity per warehouse, listings, and per connection what was sent, accepted and applied, and when."""
        async with pool.acquire() as conn:
            view = await repository.sku_view(conn, sku)
        if view is None:
            raise Problem(404, "SKU not known")
        return view

    return [history, admin]
