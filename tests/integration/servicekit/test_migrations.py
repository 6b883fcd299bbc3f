import asyncio
from pathlib import Path

import asyncpg
import pytest
from servicekit import MigrationError, MigrationSource, migrate


def _write(folder: Path, name: str, sql: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(sql)


async def test_migrations_apply_once_in_order(database_url: str, tmp_path: Path) -> None:
    _write(tmp_path, "0001_items.sql", "CREATE TABLE items (id int PRIMARY KEY);")
    _write(tmp_path, "0002_item_names.sql", "ALTER TABLE items ADD COLUMN name text;")
    source = MigrationSource("svc", tmp_path)
    conn = await asyncpg.connect(database_url)
    try:
        assert await migrate(conn, "scratch", [source]) == ["svc/0001_items.sql", "svc/0002_item_names.sql"]
        assert await migrate(conn, "scratch", [source]) == []
        columns = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema='scratch' AND table_name='items'"
        )
        assert {c["column_name"] for c in columns} == {"id", "name"}
    finally:
        await conn.close()


async def test_an_applied_migration_that_was_edited_is_refused(database_url: str, tmp_path: Path) -> None:
    _write(tmp_path, "0001_items.sql", "CREATE TABLE items (id int);")
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, "scratch", [MigrationSource("svc", tmp_path)])
        _write(tmp_path, "0001_items.sql", "CREATE TABLE items (id bigint);")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, "scratch", [MigrationSource("svc", tmp_path)])
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_half_applied(database_url: str, tmp_path: Path) -> None:
    _write(tmp_path, "0001_broken.sql", "CREATE TABLE a (id int); CREATE TABLE a (id int);")
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.DuplicateTableError):
            await migrate(conn, "scratch", [MigrationSource("svc", tmp_path)])
        assert await conn.fetchval("SELECT to_regclass('scratch.a')") is None
        assert await conn.fetchval("SELECT count(*) FROM scratch.schema_migrations") == 0
    finally:
        await conn.close()


async def test_concurrent_migrators_apply_each_file_once(database_url: str, tmp_path: Path) -> None:
    _write(tmp_path, "0001_items.sql", "CREATE TABLE items (id int); SELECT pg_sleep(0.2);")
    conns = [await asyncpg.connect(database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c, "scratch", [MigrationSource("svc", tmp_path)]) for c in conns))
        assert sorted(len(r) for r in results) == [0, 0, 1]
    finally:
        for c in conns:
            await c.close()


def test_badly_named_migration_files_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, "1_items.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_snake_case"):
        MigrationSource("svc", tmp_path).load()
