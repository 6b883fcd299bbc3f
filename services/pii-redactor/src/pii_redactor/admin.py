"""Admin HTTP routes: orders by number, the audited reveal and erasure, the compliance views and the audit export.

Roles: viewers see orders (PII as "held" or REDACTED, never values), due and done redactions; operators erase;
admins export the audit log; only `pii_reader` reveals PII, with a reason, audited. The warehouse's label
endpoint lives under /internal and takes a service token (SERVICE_TOKENS), not an admin one.
"""

from __future__ import annotations

import csv
import hmac
import io
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

import asyncpg
import spapi
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from servicekit import Principal, Problem, Role, problem_responses, require_role

from pii_redactor import redaction, vault
from pii_redactor.amazon_pii import AddressUnavailable
from pii_redactor.clock import Clock
from pii_redactor.crypto import VaultCipher

Viewer = Annotated[Principal, Depends(require_role(Role.viewer))]
Operator = Annotated[Principal, Depends(require_role(Role.operator))]
Admin = Annotated[Principal, Depends(require_role(Role.admin))]
AnyPrincipal = Annotated[Principal, Depends(require_role(Role.pii_reader))]
Reason = Annotated[str, Query(min_length=3, max_length=500, description="Why the PII is needed; audited.")]
ConnectionQuery = Annotated[str | None, Query(description="Needed when the order number exists on two connections.")]


class Erasure(BaseModel):
    reason: str = Field(min_length=3, max_length=500)
    connection_id: str | None = None


class ClockAdvance(BaseModel):
    days: float = Field(ge=0, le=3650)


def order_view(row: asyncpg.Record) -> dict[str, Any]:
    redacted = row["redacted_at"] is not None
    held = set(row["pii_fields"])
    return {
        "connection_id": row["connection_id"],
        "amazon_order_id": row["amazon_order_id"],
        "marketplace_id": row["marketplace_id"],
        "status": row["status"],
        "purchase_date": row["purchase_date"],
        "completed_at": row["completed_at"],
        "cancelled_at": row["cancelled_at"],
        "last_shipped_at": row["last_shipped_at"],
        "clock_started_at": row["clock_started_at"],
        "clock_source": row["clock_source"],
        "redact_at": row["redact_at"],
        "redact_basis": row["redact_basis"],
        "redacted_at": row["redacted_at"],
        "redaction_reason": row["redaction_reason"],
        # Which fields are held, never their values: those only come from the audited reveal.
        "pii": {f: vault.REDACTED if redacted else ("held" if f in held else None) for f in vault.ALL_FIELDS},
    }


async def _one(conn: asyncpg.Connection, amazon_order_id: str, connection_id: str | None) -> asyncpg.Record:
    rows = await vault.find(conn, amazon_order_id, connection_id)
    if not rows:
        raise Problem(404, "order not held")
    if len(rows) > 1:
        raise Problem(409, "the order number exists on several connections; pass connection_id")
    return rows[0]


def create_routers(
    pool: asyncpg.Pool,
    *,
    cipher: VaultCipher,
    clock: Clock,
    due_soon: timedelta,
    test_clock_enabled: bool,
    service_tokens: dict[str, str],
    published: Callable[[], None],
    clock_moved: Callable[[], None] = lambda: None,
    fetch_pii: Callable[[str, str], Awaitable[dict[str, Any]]] | None = None,
) -> list[APIRouter]:
    admin = APIRouter(prefix="/admin", tags=["admin"])

    @admin.get("/orders/{amazon_order_id}", responses=problem_responses(404, 409))
    async def order(amazon_order_id: str, _: Viewer, connection_id: ConnectionQuery = None) -> dict[str, Any]:
        """What is held of an order, with REDACTED in place of PII once redacted."""
        async with pool.acquire() as conn:
            return order_view(await _one(conn, amazon_order_id, connection_id))

    @admin.get("/orders/{amazon_order_id}/pii", responses=problem_responses(403, 404, 409, 410))
    async def reveal(
        amazon_order_id: str, who: AnyPrincipal, reason: Reason, connection_id: ConnectionQuery = None
    ) -> dict[str, Any]:
        """The order's PII in clear, for the pii_reader role only; every call is audited with who, when and why."""
        if who.role != Role.pii_reader:
            raise Problem(403, f"role {who.role.name} may not read PII; pii_reader is needed")
        async with pool.acquire() as conn, conn.transaction():
            row = await _one(conn, amazon_order_id, connection_id)
            gone = row["redacted_at"] is not None
            await vault.audit(
                conn,
                at=clock(),
                actor=who.name,
                action="reveal",
                connection_id=row["connection_id"],
                amazon_order_id=amazon_order_id,
                reason=reason,
                outcome="gone" if gone else ("revealed" if row["sealed"] is not None else "nothing held"),
            )
        if gone:
            raise Problem(410, "the PII of this order was redacted")
        pii = vault.unseal(cipher, row) if row["sealed"] is not None else {}
        return {"connection_id": row["connection_id"], "amazon_order_id": amazon_order_id, "pii": pii}

    @admin.post("/orders/{amazon_order_id}/erasure", responses=problem_responses(404, 409, 410))
    async def erase(amazon_order_id: str, body: Erasure, who: Operator) -> dict[str, Any]:
        """Erases one order's PII now (an erasure request), audited, and publishes order.redacted."""
        now = clock()
        async with pool.acquire() as conn, conn.transaction():
            row = await _one(conn, amazon_order_id, body.connection_id)
            await conn.execute(
                "SELECT 1 FROM vault WHERE connection_id = $1 AND amazon_order_id = $2 FOR UPDATE",
                row["connection_id"],
                amazon_order_id,
            )
            done = await vault.redact_rows(
                conn, [(row["connection_id"], amazon_order_id)], now=now, reason="deletion_request"
            )
            await vault.audit(
                conn,
                at=now,
                actor=who.name,
                action="erasure",
                connection_id=row["connection_id"],
                amazon_order_id=amazon_order_id,
                reason=body.reason,
                outcome="erased" if done else "already redacted",
            )
            await redaction.publish_redacted(conn, done, now=now, reason="deletion_request")
        published()
        if not done:
            raise Problem(410, "the PII of this order was already redacted")
        return {"connection_id": row["connection_id"], "amazon_order_id": amazon_order_id, "redacted_at": now}

    @admin.get("/redactions")
    async def redactions(_: Viewer, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        """Compliance view: overdue (must be empty), due soon, and recently done, with the basis of each."""
        now = clock()
        cols = "connection_id, amazon_order_id, redact_at, redact_basis, clock_source, purchase_date"
        async with pool.acquire() as conn:
            overdue = await conn.fetch(
                f"SELECT {cols} FROM vault WHERE redacted_at IS NULL AND redact_at <= $1 ORDER BY redact_at LIMIT $2",
                now,
                limit,
            )
            soon = await conn.fetch(
                f"SELECT {cols} FROM vault WHERE redacted_at IS NULL AND redact_at > $1 AND redact_at <= $2"
                " ORDER BY redact_at LIMIT $3",
                now,
                now + due_soon,
                limit,
            )
            done = await conn.fetch(
                f"SELECT {cols}, redacted_at, redaction_reason FROM vault WHERE redacted_at IS NOT NULL"
                " ORDER BY redacted_at DESC LIMIT $1",
                limit,
            )
            counts = await conn.fetchrow(
                """SELECT count(*) FILTER (WHERE redacted_at IS NULL AND redact_at <= $1) AS overdue,
                          count(*) FILTER (WHERE redacted_at IS NULL AND redact_at > $1 AND redact_at <= $2)
                              AS due_soon,
                          count(*) FILTER (WHERE redacted_at IS NOT NULL) AS done,
                          count(*) FILTER (WHERE redacted_at IS NOT NULL AND redact_basis = 'hard_maximum')
                              AS done_at_hard_maximum
                   FROM vault""",
                now,
                now + due_soon,
            )
        return {"now": now, "counts": dict(counts), "overdue": [dict(r) for r in overdue],
                "due_soon": [dict(r) for r in soon], "done": [dict(r) for r in done]}  # fmt: skip

    @admin.get("/audit-log")
    async def audit_export(
        _: Admin,
        since: datetime | None = None,
        format: Annotated[str, Query(pattern="^(jsonl|csv)$")] = "jsonl",
    ) -> Response:
        """The audit log (reveals, erasures, label fetches) as JSON lines or CSV; it holds no PII."""
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT id, at, actor, action, connection_id, amazon_order_id, reason, outcome FROM audit_log"
                " WHERE at >= COALESCE($1, '-infinity'::timestamptz) ORDER BY id",
                since,
            )
        if format == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["id", "at", "actor", "action", "connection_id", "amazon_order_id", "reason", "outcome"])
            writer.writerows([[r[k] if k != "at" else r[k].isoformat() for k in r.keys()] for r in rows])
            return Response(out.getvalue(), media_type="text/csv")
        body = "".join(json.dumps({**dict(r), "at": r["at"].isoformat()}) + "\n" for r in rows)
        return Response(body, media_type="application/x-ndjson")

    routers = [admin]
    if test_clock_enabled:
        testing = APIRouter(prefix="/admin/test", tags=["testing"])

        @testing.post("/clock")
        async def advance(body: ClockAdvance, _: Operator) -> dict[str, Any]:
            """TEST_CLOCK_ENABLED only: moves this process's clock forward (demos of the 30-day redaction)."""
            now = clock.advance(timedelta(days=body.days))
            clock_moved()  # the job runs now instead of at its next interval
            return {"now": now, "offset_days": clock.offset / timedelta(days=1)}

        routers.append(testing)

    internal = APIRouter(prefix="/internal", tags=["internal"])

    @internal.get("/labels/{connection_id}/{amazon_order_id}", responses=problem_responses(401, 404, 410))
    async def label_address(
        connection_id: str, amazon_order_id: str, request: Request, reason: Reason
    ) -> dict[str, Any]:
        """The ship-to address for a label (PII-minimal delivery): a service token, audited per call."""
        caller = _service(request, service_tokens)
        async with pool.acquire() as conn:
            row = await _one(conn, amazon_order_id, connection_id)
        pii: dict[str, Any] = {}
        outcome = "revealed"
        if row["redacted_at"] is not None:
            outcome = "gone"
        elif row["sealed"] is not None:
            pii = vault.unseal(cipher, row)
        elif row["pii_reference"] and fetch_pii is not None:
            # PII-minimal: read from Amazon now (outside any transaction), then held and redacted like the rest.
            try:
                pii = await fetch_pii(connection_id, amazon_order_id)
            except AddressUnavailable:
                outcome = "not on Amazon"
            except spapi.SpApiError as exc:
                raise Problem(502, f"Amazon did not answer with the order: {type(exc).__name__}") from None
            if pii:
                sealed = vault.seal(cipher, connection_id, amazon_order_id, pii)
                async with pool.acquire() as conn:
                    await vault.store_fetched(conn, connection_id, amazon_order_id, sealed, vault.held_fields(pii))
                outcome = "revealed from Amazon"
        async with pool.acquire() as conn:
            await vault.audit(
                conn,
                at=clock(),
                actor=f"service:{caller}",
                action="label",
                connection_id=connection_id,
                amazon_order_id=amazon_order_id,
                reason=reason,
                outcome=outcome,
            )
        if outcome == "gone":
            raise Problem(410, "the PII of this order was redacted")
        if "ship_to" not in pii:
            raise Problem(404, "no ship-to address held for this order")
        return {"connection_id": connection_id, "amazon_order_id": amazon_order_id, "ship_to": pii["ship_to"]}

    routers.append(internal)
    return routers


def _service(request: Request, tokens: dict[str, str]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        raise Problem(401, "missing service token", headers={"WWW-Authenticate": "Bearer"})
    found = None
    for token, name in tokens.items():
        if hmac.compare_digest(token.encode(), presented.encode()):
            found = name
    if found is None:
        raise Problem(401, "invalid service token", headers={"WWW-Authenticate": "Bearer"})
    return found
