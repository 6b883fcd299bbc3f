"""SQL on connector-auth's own schema. Functions take the caller's connection; none of them commits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from connector_auth.crypto import Sealed


@dataclass(frozen=True, slots=True, kw_only=True)
class Connection:
    id: str
    name: str
    region: str
    marketplace_ids: list[str]
    status: str
    selling_partner_id: str | None
    authorized_at: datetime | None
    settings: dict[str, Any]
    revision: int
    published_warnings: list[str]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class StateRow:
    connection_id: str
    setup_link_id: str | None
    browser_bound: bool
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SetupLink:
    id: str
    connection_id: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    used_at: datetime | None


_CONNECTION_COLUMNS = (
    "id, name, region, marketplace_ids, status, selling_partner_id, authorized_at, settings, revision,"
    " published_warnings, created_at, updated_at"
)


def _connection(row: asyncpg.Record) -> Connection:
    return Connection(**{**dict(row), "settings": json.loads(row["settings"])})


async def insert_connection(conn: asyncpg.Connection, c: Connection) -> None:
    await conn.execute(
        f"INSERT INTO connections ({_CONNECTION_COLUMNS})"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12)",
        c.id, c.name, c.region, c.marketplace_ids, c.status, c.selling_partner_id, c.authorized_at,
        json.dumps(c.settings), c.revision, c.published_warnings, c.created_at, c.updated_at,
    )  # fmt: skip


async def update_connection(conn: asyncpg.Connection, c: Connection) -> None:
    await conn.execute(
        "UPDATE connections SET name = $2, marketplace_ids = $3, status = $4, selling_partner_id = $5,"
        " authorized_at = $6, settings = $7::jsonb, revision = $8, published_warnings = $9, updated_at = $10"
        " WHERE id = $1",
        c.id, c.name, c.marketplace_ids, c.status, c.selling_partner_id, c.authorized_at, json.dumps(c.settings),
        c.revision, c.published_warnings, c.updated_at,
    )  # fmt: skip


async def get_connection(
    conn: asyncpg.Connection, connection_id: str, *, for_update: bool = False
) -> Connection | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_CONNECTION_COLUMNS} FROM connections WHERE id = $1{lock}", connection_id)
    return _connection(row) if row else None


async def list_connections(conn: asyncpg.Connection, *, include_disconnected: bool = True) -> list[Connection]:
    where = "" if include_disconnected else " WHERE status <> 'disconnected'"
    rows = await conn.fetch(f"SELECT {_CONNECTION_COLUMNS} FROM connections{where} ORDER BY created_at, id")
    return [_connection(r) for r in rows]


async def connection_of_seller(conn: asyncpg.Connection, selling_partner_id: str, region: str) -> str | None:
    """The live connection already holding this seller account in this region, if any."""
    value = await conn.fetchval(
        "SELECT id FROM connections WHERE selling_partner_id = $1 AND region = $2 AND status <> 'disconnected'",
        selling_partner_id,
        region,
    )
    return str(value) if value is not None else None


# --- refresh tokens ----------------------------------------------------------------------------------


async def store_refresh_token(conn: asyncpg.Connection, connection_id: str, sealed: Sealed, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO refresh_tokens (connection_id, key_id, nonce, ciphertext, stored_at) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (connection_id) DO UPDATE"
        " SET key_id = EXCLUDED.key_id, nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext,"
        " stored_at = EXCLUDED.stored_at",
        connection_id, sealed.key_id, sealed.nonce, sealed.ciphertext, now,
    )  # fmt: skip


async def load_refresh_token(conn: asyncpg.Connection, connection_id: str) -> Sealed | None:
    row = await conn.fetchrow(
        "SELECT key_id, nonce, ciphertext FROM refresh_tokens WHERE connection_id = $1", connection_id
    )
    return Sealed(row["key_id"], bytes(row["nonce"]), bytes(row["ciphertext"])) if row else None


async def delete_refresh_token(conn: asyncpg.Connection, connection_id: str) -> bool:
    deleted = await conn.fetchval("DELETE FROM refresh_tokens WHERE connection_id = $1 RETURNING 1", connection_id)
    return bool(deleted == 1)


async def refresh_tokens_not_under(conn: asyncpg.Connection, key_id: str) -> list[asyncpg.Record]:
    """Rows sealed under an older key, locked for re-encryption, with what their associated data needs."""
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT t.connection_id, t.key_id, t.nonce, t.ciphertext, c.region FROM refresh_tokens t"
        " JOIN connections c ON c.id = t.connection_id WHERE t.key_id <> $1 FOR UPDATE OF t",
        key_id,
    )
    return rows


async def refresh_tokens_by_key(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT key_id, count(*) AS n FROM refresh_tokens GROUP BY key_id ORDER BY key_id")
    return {r["key_id"]: r["n"] for r in rows}


# --- OAuth states ------------------------------------------------------------------------------------


async def insert_state(
    conn: asyncpg.Connection,
    *,
    nonce_hash: bytes,
    connection_id: str,
    setup_link_id: str | None,
    browser_bound: bool,
    now: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO oauth_states (nonce_hash, connection_id, setup_link_id, browser_bound, created_at, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        nonce_hash, connection_id, setup_link_id, browser_bound, now, expires_at,
    )  # fmt: skip
    # Expired states are useless; keep the table small while we are here.
    await conn.execute("DELETE FROM oauth_states WHERE expires_at < $1::timestamptz - interval '1 day'", now)


async def lock_state(conn: asyncpg.Connection, nonce_hash: bytes) -> StateRow | None:
    row = await conn.fetchrow(
        "SELECT connection_id, setup_link_id, browser_bound, expires_at, used_at FROM oauth_states"
        " WHERE nonce_hash = $1 FOR UPDATE",
        nonce_hash,
    )
    return StateRow(**dict(row)) if row else None


async def mark_state_used(conn: asyncpg.Connection, nonce_hash: bytes, now: datetime) -> None:
    await conn.execute("UPDATE oauth_states SET used_at = $2 WHERE nonce_hash = $1", nonce_hash, now)


# --- setup links -------------------------------------------------------------------------------------


async def insert_setup_link(conn: asyncpg.Connection, link: SetupLink, token_hash: bytes) -> None:
    await conn.execute(
        "INSERT INTO setup_links (id, connection_id, token_hash, created_by, created_at, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        link.id, link.connection_id, token_hash, link.created_by, link.created_at, link.expires_at,
    )  # fmt: skip


_LINK_COLUMNS = "id, connection_id, created_by, created_at, expires_at, revoked_at, used_at"


async def get_setup_link(
    conn: asyncpg.Connection, link_id: str, *, token_hash: bytes | None = None, for_update: bool = False
) -> SetupLink | None:
    if token_hash is None:
        lock = " FOR UPDATE" if for_update else ""
        row = await conn.fetchrow(f"SELECT {_LINK_COLUMNS} FROM setup_links WHERE id = $1{lock}", link_id)
    else:
        row = await conn.fetchrow(
            f"SELECT {_LINK_COLUMNS} FROM setup_links WHERE id = $1 AND token_hash = $2", link_id, token_hash
        )
    return SetupLink(**dict(row)) if row else None


async def list_setup_links(conn: asyncpg.Connection, connection_id: str) -> list[SetupLink]:
    rows = await conn.fetch(
        f"SELECT {_LINK_COLUMNS} FROM setup_links WHERE connection_id = $1 ORDER BY created_at", connection_id
    )
    return [SetupLink(**dict(r)) for r in rows]


async def revoke_setup_link(conn: asyncpg.Connection, link_id: str, now: datetime) -> None:
    await conn.execute("UPDATE setup_links SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", link_id, now)


async def revoke_setup_links_of(conn: asyncpg.Connection, connection_id: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE setup_links SET revoked_at = $2 WHERE connection_id = $1 AND revoked_at IS NULL", connection_id, now
    )


async def mark_setup_link_used(conn: asyncpg.Connection, link_id: str, now: datetime) -> None:
    await conn.execute("UPDATE setup_links SET used_at = $2 WHERE id = $1", link_id, now)


# --- audit -------------------------------------------------------------------------------------------


async def audit(
    conn: asyncpg.Connection,
    *,
    at: datetime,
    actor: str,
    actor_kind: str,
    action: str,
    connection_id: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO audit_log (at, actor, actor_kind, action, connection_id, details) VALUES ($1, $2, $3, $4, $5, $6)",
        at, actor, actor_kind, action, connection_id, json.dumps(details or {}, default=str),
    )  # fmt: skip


async def audit_entries(conn: asyncpg.Connection, connection_id: str, limit: int = 200) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT at, actor, actor_kind, action, details FROM audit_log WHERE connection_id = $1"
        " ORDER BY id DESC LIMIT $2",
        connection_id,
        limit,
    )
    return [{**dict(r), "details": json.loads(r["details"])} for r in rows]
