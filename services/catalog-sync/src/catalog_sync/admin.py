"""Admin HTTP routes: sync history (the synchistory lib's), listings, SKU links and FBA mismatches.

Roles: viewers read; operators start runs and change links. Responses hold no PII (a catalog has none).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import asyncpg
import sellers
import synchistory
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from servicekit import Principal, Problem, Role, problem_responses, require_role

from catalog_sync import repository
from catalog_sync.sync import CatalogEngine
from catalog_sync.sync_history import HISTORY, Lane

Viewer = Annotated[Principal, Depends(require_role(Role.viewer))]
Operator = Annotated[Principal, Depends(require_role(Role.operator))]

COUNTS = ("fetched", "published", "unchanged", "deleted")
MAX_LINKS = 1000


def run_view(run: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in run.items() if k not in ("counts", "record_keys")}
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
    return None


class SkuLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Annotated[str, StringConstraints(min_length=1, max_length=40)]
    item_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        description="The internal item; null (or the SKU itself) unlinks."
    )


class SkuLinks(BaseModel):
    model_config = ConfigDict(extra="forbid")

    links: list[SkuLink] = Field(min_length=1, max_length=MAX_LINKS)

    @model_validator(mode="after")
    def _one_per_sku(self) -> SkuLinks:
        skus = [link.sku for link in self.links]
        if len(set(skus)) != len(skus):
            raise ValueError("each SKU may appear once")
        return self


def create_routers(pool: asyncpg.Pool, engine: CatalogEngine, queued: Callable[[], None]) -> list[APIRouter]:
    history = synchistory.sync_routes(
        pool,
        HISTORY,
        synchistory.SyncAdmin(
            lane=Lane.CATALOG, admission=admission, queued=queued, replay=True, run_view=run_view,
            error_view=error_view,
        ),
    )  # fmt: skip
    admin = APIRouter(prefix="/admin", tags=["admin"])

    @admin.get("/listings/{sku:path}", responses=problem_responses(404))
    async def listing(
        sku: str, _: Viewer, connection_id: Annotated[str | None, Query(max_length=200)] = None
    ) -> list[dict[str, Any]]:
        """What Amazon has for the SKU (as last published), per connection, and when it changed."""
        async with pool.acquire() as conn:
            found = await repository.listing_views(conn, sku, connection_id)
        if not found:
            raise Problem(404, "no such listing")
        return found

    @admin.put("/connections/{connection_id}/sku-links", responses=problem_responses(404))
    async def put_links(connection_id: str, body: SkuLinks, _: Operator) -> dict[str, Any]:
        """Links SKUs to internal items, in bulk; sending the same links again changes nothing."""
        changed = republished = 0
        async with pool.acquire() as conn, conn.transaction():
            if await sellers.connection(conn, connection_id) is None:
                raise Problem(404, "unknown connection")
            for link in sorted(body.links, key=lambda x: x.sku):
                if await repository.set_link(conn, connection_id, link.sku, link.item_id):
                    changed += 1
                    if await engine.republish(conn, connection_id, link.sku):
                        republished += 1
            await repository.refresh_mismatches(conn, connection_id)
        if republished:
            engine.published()
        return {"links": len(body.links), "changed": changed, "republished": republished}

    @admin.get("/connections/{connection_id}/fba-mismatches", responses=problem_responses(404))
    async def fba_mismatches(connection_id: str, _: Viewer) -> dict[str, Any]:
        async with pool.acquire() as conn:
            connection = await sellers.connection(conn, connection_id)
            if connection is None:
                raise Problem(404, "unknown connection")
            found = await repository.mismatches(conn, connection_id)
        return {"warehouse_id": connection.settings.fba_warehouse_id, "mismatches": found}

    return [history, admin]
