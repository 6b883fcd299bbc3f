"""Admin HTTP routes: a shipment's packages and their states, an order's shipments, and a retry.

Roles: viewers read; operators retry. Nothing here is PII (the service stores none).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import asyncpg
import sellers
import synchistory
from fastapi import APIRouter, Depends
from servicekit import Principal, Problem, Role, problem_responses, require_role

from shipment_relay import repository
from shipment_relay.cancellations import cancellation_view
from shipment_relay.sync_history import HISTORY, Lane

Viewer = Annotated[Principal, Depends(require_role(Role.viewer))]
Operator = Annotated[Principal, Depends(require_role(Role.operator))]


def _package(row: asyncpg.Record) -> dict[str, Any]:
    keys = (
        "package_index", "package_reference_id", "state", "carrier", "carrier_code", "carrier_name",
        "shipping_method", "tracking_number", "ship_date", "attempts", "created_at", "sent_at", "decided_at",
        "next_attempt_at", "reason", "error_code", "error_message",
    )  # fmt: skip
    view = {k: row[k] for k in keys}
    view["items"] = json.loads(row["items"])
    return view


async def shipment_view(conn: asyncpg.Connection, shipment_id: str) -> dict[str, Any] | None:
    shipment = await repository.shipment(conn, shipment_id)
    if shipment is None:
        return None
    packages = await repository.shipment_packages(conn, shipment_id)
    return {
        "shipment_id": shipment_id,
        "connection_id": shipment["connection_id"],
        "marketplace_id": shipment["marketplace_id"],
        "amazon_order_id": shipment["amazon_order_id"],
        "created_at": shipment["created_at"],
        "published": shipment["published"],
        "packages": [_package(p) for p in packages],
    }


async def admission(conn: asyncpg.Connection, connection_id: str) -> synchistory.Refusal | None:
    connection = await sellers.connection(conn, connection_id)
    if connection is None:
        return synchistory.UNKNOWN_CONNECTION
    if not connection.callable:
        return synchistory.Refusal(409, "connection may not call Amazon now")
    return None


def sync_router(pool: asyncpg.Pool, queued: Callable[[], None]) -> APIRouter:
    """The lib's runs routes, less the connection sync ones: nothing here is polled, so a time range or a
    sync-now would have nothing to read; a resync re-drives the failed records of its run."""
    router = synchistory.sync_routes(
        pool, HISTORY, synchistory.SyncAdmin(lane=Lane.CONFIRM, admission=admission, queued=queued)
    )
    router.routes[:] = [r for r in router.routes if "/connections/" not in getattr(r, "path", "")]
    return router


def create_router(pool: asyncpg.Pool, queued: Callable[[], None]) -> APIRouter:
    admin = APIRouter(prefix="/admin", tags=["admin"])

    @admin.get("/shipments/{shipment_id}", responses=problem_responses(404))
    async def get_shipment(shipment_id: str, _: Viewer) -> dict[str, Any]:
        async with pool.acquire() as conn:
            view = await shipment_view(conn, shipment_id)
        if view is None:
            raise Problem(404, "shipment not known")
        return view

    @admin.post("/shipments/{shipment_id}/retry", responses=problem_responses(404))
    async def retry_shipment(shipment_id: str, _: Operator) -> dict[str, Any]:
        """Rejected packages are validated and sent again; accepted ones never are (no double confirmation)."""
        async with pool.acquire() as conn, conn.transaction():
            if await repository.shipment(conn, shipment_id) is None:
                raise Problem(404, "shipment not known")
            count = await repository.retry(conn, shipment_id)
        queued()
        return {"shipment_id": shipment_id, "packages_queued": count}

    @admin.get("/orders/{amazon_order_id}/shipments")
    async def order_shipments(amazon_order_id: str, _: Viewer) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            ids = await repository.order_shipments(conn, amazon_order_id)
            views = [await shipment_view(conn, i) for i in ids]
        return [v for v in views if v is not None]

    @admin.get("/orders/{amazon_order_id}/cancellation", responses=problem_responses(404))
    async def order_cancellation(amazon_order_id: str, _: Viewer) -> dict[str, Any]:
        """The seller cancellation of the order: its feed, message and Amazon's result."""
        async with pool.acquire() as conn:
            view = await cancellation_view(conn, amazon_order_id)
        if view is None:
            raise Problem(404, "no cancellation for this order")
        return view

    return admin
