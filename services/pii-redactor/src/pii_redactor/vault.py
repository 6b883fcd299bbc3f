"""The vault table: sealing an order's PII, its clock facts, the schedule, and the redaction of a batch.

Every function takes the caller's connection and never commits: handlers and the job own the transactions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from contracts import OrderReceivedV1

from pii_redactor.crypto import Sealed, VaultCipher, order_aad

REDACTED = "REDACTED"

# What the vault keeps of an order.received: the contract's PII and the rest of the ship-to address, which
# together identify a person. Read from the payload by these names (the contract marks the PII ones).
# `buyer_company` and `ship_to.company` come only from Amazon (PII-minimal delivery): the contract has neither.
BUYER_FIELDS = ("buyer_name", "buyer_email", "buyer_phone", "buyer_company")
SHIP_TO_FIELDS = (
    "recipient_name",
    "company",
    "address_line1",
    "address_line2",
    "address_line3",
    "city",
    "state_or_region",
    "postal_code",
    "country_code",
    "phone",
)
ALL_FIELDS = (*BUYER_FIELDS, *(f"ship_to.{f}" for f in SHIP_TO_FIELDS))


def pii_of(order: OrderReceivedV1) -> dict[str, Any]:
    held: dict[str, Any] = {f: getattr(order, f, None) for f in BUYER_FIELDS if getattr(order, f, None) is not None}
    if order.ship_to is not None:
        held["ship_to"] = {
            f: getattr(order.ship_to, f, None) for f in SHIP_TO_FIELDS if getattr(order.ship_to, f, None) is not None
        }
    return held


def held_fields(pii: dict[str, Any]) -> list[str]:
    return [f for f in BUYER_FIELDS if f in pii] + [f"ship_to.{f}" for f in pii.get("ship_to", {})]


def seal(cipher: VaultCipher, connection_id: str, amazon_order_id: str, pii: dict[str, Any]) -> Sealed:
    return cipher.encrypt(json.dumps(pii, sort_keys=True).encode(), order_aad(connection_id, amazon_order_id))


def unseal(cipher: VaultCipher, row: asyncpg.Record) -> dict[str, Any]:
    sealed = Sealed(row["key_id"], bytes(row["nonce"]), bytes(row["sealed"]))
    found: dict[str, Any] = json.loads(cipher.decrypt(sealed, order_aad(row["connection_id"], row["amazon_order_id"])))
    return found


async def lock_row(conn: asyncpg.Connection, connection_id: str, amazon_order_id: str) -> asyncpg.Record:
    """The order's row, created empty if no event of it came before, locked for the rest of the transaction."""
    await conn.execute(
        "INSERT INTO vault (connection_id, amazon_order_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        connection_id,
        amazon_order_id,
    )
    row: asyncpg.Record = await conn.fetchrow(
        "SELECT * FROM vault WHERE connection_id = $1 AND amazon_order_id = $2 FOR UPDATE",
        connection_id,
        amazon_order_id,
    )
    return row


async def store_order(
    conn: asyncpg.Connection, row: asyncpg.Record, order: OrderReceivedV1, sealed: Sealed | None, fields: list[str]
) -> None:
    """A newer revision's facts; its PII replaces the held PII (a revision without PII keeps what is held)."""
    await conn.execute(
        """UPDATE vault SET marketplace_id = $3, status = $4, purchase_date = $5, last_update_date = $6,
               key_id = COALESCE($7, key_id), nonce = COALESCE($8, nonce), sealed = COALESCE($9, sealed),
               pii_fields = CASE WHEN $9::bytea IS NULL THEN pii_fields ELSE $10 END,
               pii_reference = $11, updated_at = now()
           WHERE connection_id = $1 AND amazon_order_id = $2""",
        row["connection_id"],
        row["amazon_order_id"],
        order.marketplace_id,
        order.status.value,
        order.purchase_date,
        order.last_update_date,
        sealed.key_id if sealed else None,
        sealed.nonce if sealed else None,
        sealed.ciphertext if sealed else None,
        fields,
        order.pii_reference,
    )


async def store_fetched(
    conn: asyncpg.Connection, connection_id: str, amazon_order_id: str, sealed: Sealed, fields: list[str]
) -> bool:
    """PII read from Amazon for a PII-minimal order; only into a row still held and empty. False: not stored."""
    status = await conn.execute(
        """UPDATE vault SET key_id = $3, nonce = $4, sealed = $5, pii_fields = $6, updated_at = now()
           WHERE connection_id = $1 AND amazon_order_id = $2 AND redacted_at IS NULL AND sealed IS NULL""",
        connection_id,
        amazon_order_id,
        sealed.key_id,
        sealed.nonce,
        sealed.ciphertext,
        fields,
    )
    return bool(status == "UPDATE 1")


async def set_clock(
    conn: asyncpg.Connection, row: asyncpg.Record, *, column: str, at: datetime, started_at: datetime, source: str
) -> None:
    assert column in ("completed_at", "cancelled_at", "last_shipped_at")
    await conn.execute(
        f"UPDATE vault SET {column} = $3, clock_started_at = $4, clock_source = $5, updated_at = now()"
        " WHERE connection_id = $1 AND amazon_order_id = $2",
        row["connection_id"],
        row["amazon_order_id"],
        at,
        started_at,
        source,
    )


# Due = clock start + the connection's retention (never over 30 days); never started: purchase + hard maximum.
_RESCHEDULE = """
UPDATE vault v SET
    redact_at = CASE
        WHEN v.clock_started_at IS NOT NULL THEN v.clock_started_at + make_interval(days => r.days)
        WHEN v.purchase_date IS NOT NULL THEN v.purchase_date + make_interval(days => $1::int)
    END,
    redact_basis = CASE
        WHEN v.clock_started_at IS NOT NULL THEN 'retention'
        WHEN v.purchase_date IS NOT NULL THEN 'hard_maximum'
    END
FROM (
    SELECT v2.connection_id, v2.amazon_order_id, LEAST(30, GREATEST(1, COALESCE(
        (SELECT (c.settings->>'pii_retention_days')::int FROM connections c WHERE c.connection_id = v2.connection_id),
        30))) AS days
    FROM vault v2 WHERE {where}
) r
WHERE v.connection_id = r.connection_id AND v.amazon_order_id = r.amazon_order_id AND v.redacted_at IS NULL
"""


async def reschedule(conn: asyncpg.Connection, connection_id: str, amazon_order_id: str, *, hard_max_days: int) -> None:
    await conn.execute(
        _RESCHEDULE.format(where="v2.connection_id = $2 AND v2.amazon_order_id = $3"),
        hard_max_days,
        connection_id,
        amazon_order_id,
    )


async def reschedule_connection(conn: asyncpg.Connection, connection_id: str, *, hard_max_days: int) -> None:
    """A changed retention applies to every order of the connection still held."""
    await conn.execute(
        _RESCHEDULE.format(where="v2.connection_id = $2 AND v2.redacted_at IS NULL"), hard_max_days, connection_id
    )


@dataclass(frozen=True, slots=True)
class Redacted:
    connection_id: str
    amazon_order_id: str
    basis: str


async def claim_due(conn: asyncpg.Connection, now: datetime, limit: int) -> list[asyncpg.Record]:
    """Due rows no other replica holds; locked until the caller's transaction ends."""
    return list(
        await conn.fetch(
            """SELECT connection_id, amazon_order_id, redact_basis FROM vault
               WHERE redacted_at IS NULL AND redact_at <= $1
               ORDER BY redact_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
            now,
            limit,
        )
    )


async def redact_rows(
    conn: asyncpg.Connection, keys: list[tuple[str, str]], *, now: datetime, reason: str
) -> list[Redacted]:
    """Destroys the ciphertext of locked, unredacted rows; the row stays as a tombstone. Returns what changed."""
    rows = await conn.fetch(
        """UPDATE vault v SET key_id = NULL, nonce = NULL, sealed = NULL, redacted_at = $3, redaction_reason = $4,
               updated_at = now()
           FROM unnest($1::text[], $2::text[]) AS k(connection_id, amazon_order_id)
           WHERE v.connection_id = k.connection_id AND v.amazon_order_id = k.amazon_order_id
             AND v.redacted_at IS NULL
           RETURNING v.connection_id, v.amazon_order_id, COALESCE(v.redact_basis, 'none') AS basis""",
        [k[0] for k in keys],
        [k[1] for k in keys],
        now,
        reason,
    )
    return sorted(
        (Redacted(r["connection_id"], r["amazon_order_id"], r["basis"]) for r in rows),
        key=lambda r: (r.amazon_order_id, r.connection_id),
    )


async def find(conn: asyncpg.Connection, amazon_order_id: str, connection_id: str | None) -> list[asyncpg.Record]:
    if connection_id is None:
        return list(
            await conn.fetch("SELECT * FROM vault WHERE amazon_order_id = $1 ORDER BY connection_id", amazon_order_id)
        )
    return list(
        await conn.fetch(
            "SELECT * FROM vault WHERE amazon_order_id = $1 AND connection_id = $2", amazon_order_id, connection_id
        )
    )


async def audit(
    conn: asyncpg.Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    connection_id: str,
    amazon_order_id: str,
    reason: str,
    outcome: str,
) -> None:
    await conn.execute(
        """INSERT INTO audit_log (at, actor, action, connection_id, amazon_order_id, reason, outcome)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        at,
        actor,
        action,
        connection_id,
        amazon_order_id,
        reason,
        outcome,
    )
