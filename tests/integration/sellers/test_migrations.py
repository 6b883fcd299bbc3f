"""The lib's table in a service's schema: new services get it, orders-ingest's existing databases adopt theirs."""

from __future__ import annotations

import shutil
from pathlib import Path

import asyncpg
import messaging
import sellers
from orders_ingest import bootstrap
from servicekit import MigrationSource, migrate

from .conftest import SCHEMA, SOURCES, connection_event

ORDERS_INGEST = Path(bootstrap.__file__).resolve().parents[2] / "migrations"
BEFORE_THE_LIB = ["0001_orders_ingest.sql", "0002_notification_retries.sql"]


async def shape(conn: asyncpg.Connection, schema: str) -> tuple[list[tuple[str, ...]], list[str]]:
    columns = await conn.fetch(
        """SELECT column_name, data_type, udt_name, is_nullable, column_default FROM information_schema.columns
           WHERE table_schema = $1 AND table_name = 'connections' ORDER BY ordinal_position""",
        schema,
    )
    indexes = await conn.fetch(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'connections' ORDER BY indexname",
        schema,
    )
    return [tuple(c) for c in columns], [i["indexdef"].replace(f"{schema}.", "") for i in indexes]


async def test_an_orders_ingest_database_from_before_the_lib_adopts_its_table(
    empty_database_url: str, tmp_path: Path
) -> None:
    # orders-ingest's migrations as they were when the lib came: the same files, so the same checksums.
    for name in BEFORE_THE_LIB:
        shutil.copy(ORDERS_INGEST / name, tmp_path / name)
    before_the_lib = [
        MigrationSource("messaging", messaging.MIGRATIONS_DIR),
        MigrationSource(bootstrap.SERVICE, tmp_path),
    ]
    conn = await asyncpg.connect(empty_database_url, server_settings={"search_path": bootstrap.SCHEMA})
    try:
        await migrate(conn, bootstrap.SCHEMA, before_the_lib)
        event = connection_event("conn-old", 4)
        async with conn.transaction():
            assert await sellers.save_connection(conn, event.data) is not None
            await conn.execute(
                """INSERT INTO schedules (connection_id, watermark, next_poll_at, cancel_watermark,
                                          next_cancel_check_at) VALUES ('conn-old', now(), now(), now(), now())"""
            )
        applied = await migrate(conn, bootstrap.SCHEMA, bootstrap.MIGRATIONS)
        assert "sellers/0001_connections.sql" in applied
        assert await sellers.connection(conn, "conn-old") == sellers.Connection.of(event.data)
        # The schedules' foreign key still holds: deleting the connection takes its schedule with it.
        assert await sellers.delete_connection(conn, "conn-old")
        assert await conn.fetchval("SELECT count(*) FROM schedules") == 0
        assert await migrate(conn, bootstrap.SCHEMA, bootstrap.MIGRATIONS) == []
    finally:
        await conn.close()


async def test_the_table_is_the_same_whether_orders_ingest_or_the_lib_created_it(empty_database_url: str) -> None:
    conn = await asyncpg.connect(empty_database_url)
    try:
        await migrate(conn, bootstrap.SCHEMA, bootstrap.MIGRATIONS)
        await migrate(conn, SCHEMA, SOURCES)
        assert await shape(conn, bootstrap.SCHEMA) == await shape(conn, SCHEMA)
        columns, indexes = await shape(conn, SCHEMA)
        assert len(columns) == 8 and len(indexes) == 2
    finally:
        await conn.close()


async def test_a_new_service_lists_the_lib_first_so_its_tables_can_reference_connections(
    empty_database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_stock.sql").write_text(
        "CREATE TABLE listings (connection_id text REFERENCES connections ON DELETE CASCADE, sku text);"
    )
    conn = await asyncpg.connect(empty_database_url, server_settings={"search_path": "new_service"})
    try:
        applied = await migrate(conn, "new_service", [*SOURCES, MigrationSource("new-service", tmp_path)])
        assert applied[-2:] == ["sellers/0001_connections.sql", "new-service/0001_stock.sql"]
        await sellers.save_connection(conn, connection_event("conn-1", 1).data)
        await conn.execute("INSERT INTO listings VALUES ('conn-1', 'SKU-1')")
        await sellers.delete_connection(conn, "conn-1")
        assert await conn.fetchval("SELECT count(*) FROM listings") == 0
    finally:
        await conn.close()
