"""Admin HTTP routes: sync history (the synchistory lib's routes) and bookkeeping. ORDER_CHANGE arrives by SQS.

Roles: viewers read history and bookkeeping; operators start runs. Responses never contain PII (the service
stores none).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import asyncpg
import synchistory
from fastapi import APIRouter, Depends
from servicekit import Principal, Problem, Role, problem_responses, require_role

from orders_ingest import repository
from orders_ingest.sync_history import HISTORY, Lane

Viewer = Annotated[Principal, Depends(require_role(Role.viewer))]

# orders-ingest's finer counts of a run, shown as records_<name> beside records_succeeded and records_failed.
COUNTS = ("fetched", "published", "unchanged", "skipped")


def run_view(run: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id", "connection_id", "trigger", "status", "replay", "window_from", "window_to", "resync_of",
        "requested_by", "created_at", "started_at", "ended_at", "records_succeeded", "records_failed", "error",
    )  # fmt: skip
    view = {k: run[k] for k in keys}
    view["order_ids"] = run["record_keys"]
    view.update({f"records_{name}": int(run["counts"].get(name, 0)) for name in COUNTS})
    return view


def error_view(error: dict[str, Any]) -> dict[str, Any]:
    return {"amazon_order_id": error["record_key"], "error": error["error"], "at": error["at"]}


async def admission(conn: asyncpg.Connection, connection_id: str) -> synchistory.Refusal | None:
    connection = await repository.connection(conn, connection_id)
    if connection is None:
        return synchistory.UNKNOWN_CONNECTION
    if not connection.callable:
        return synchistory.Refusal(409, f"connection is {connection.status.value}; only active connections sync")
    return None


def create_routers(pool: asyncpg.Pool, queued: Callable[[], None]) -> list[APIRouter]:
    # Resyncs, custom ranges and sync-now go to the poll lane; `replay` publishes published revisions again.
    history = synchistory.sync_routes(
        pool,
        HISTORY,
        synchistory.SyncAdmin(
            lane=Lane.POLL, admission=admission, queued=queued, replay=True, run_view=run_view, error_view=error_view
        ),
    )
    admin = APIRouter(prefix="/admin", tags=["admin"])

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

    @admin.get("/orders/{amazon_order_id}", responses=problem_responses(404))
    async def order_bookkeeping(amazon_order_id: str, _: Viewer) -> dict[str, Any]:
        """What this service knows of an order: revisions published, status and items. No PII."""
        async with pool.acquire() as conn:
            order = await repository.order_history(conn, amazon_order_id)
        if order is None:
            raise Problem(404, "order not imported")
        return order

    return [history, admin]
