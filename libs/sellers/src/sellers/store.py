"""SQL over the service's `connections` table. Every function takes the caller's connection; none commits."""

from __future__ import annotations

import asyncpg
from contracts import ConnectionStatus, ConnectionUpdatedV1

from sellers.connection import Connection


async def save_connection(conn: asyncpg.Connection, data: ConnectionUpdatedV1) -> Connection | None:
    """Keeps the highest revision; returns what was stored, or None when this revision is not newer."""
    row = await conn.fetchrow(
        """INSERT INTO connections (connection_id, revision, status, region, marketplace_ids, selling_partner_id,
                                    settings, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, now())
           ON CONFLICT (connection_id) DO UPDATE SET
               revision = excluded.revision, status = excluded.status, region = excluded.region,
               marketplace_ids = excluded.marketplace_ids, selling_partner_id = excluded.selling_partner_id,
               settings = excluded.settings, updated_at = now()
           WHERE connections.revision < excluded.revision
           RETURNING connection_id""",
        data.connection_id,
        data.revision,
        data.status.value,
        str(data.region),
        list(data.marketplace_ids),
        data.selling_partner_id,
        data.settings.model_dump_json(),
    )
    return Connection.of(data) if row is not None else None


async def delete_connection(conn: asyncpg.Connection, connection_id: str) -> bool:
    """False when there was nothing to delete (a redelivered tombstone)."""
    deleted = await conn.fetchval("DELETE FROM connections WHERE connection_id = $1 RETURNING 1", connection_id)
    return deleted is not None


async def connection(conn: asyncpg.Connection, connection_id: str) -> Connection | None:
    row = await conn.fetchrow("SELECT * FROM connections WHERE connection_id = $1", connection_id)
    return Connection.from_row(row) if row else None


async def connections(conn: asyncpg.Connection) -> list[Connection]:
    rows = await conn.fetch("SELECT * FROM connections ORDER BY connection_id")
    return [Connection.from_row(r) for r in rows]


async def active_connections_of_seller(conn: asyncpg.Connection, selling_partner_id: str) -> list[Connection]:
    rows = await conn.fetch(
        "SELECT * FROM connections WHERE selling_partner_id = $1 AND status = $2 ORDER BY connection_id",
        selling_partner_id,
        ConnectionStatus.ACTIVE.value,
    )
    return [Connection.from_row(r) for r in rows]
