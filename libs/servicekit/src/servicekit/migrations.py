"""Forward-only SQL migrations per schema: files `NNNN_name.sql` applied once, in order, under an advisory lock."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    source: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class MigrationSource:
    """A folder of migrations; `name` keeps versions of a library's tables apart from the service's own."""

    name: str
    directory: Path

    def load(self) -> list[Migration]:
        found = []
        for path in sorted(self.directory.glob("*.sql")):
            match = _NAME.match(path.name)
            if not match:
                raise MigrationError(f"{path}: migration files are named NNNN_snake_case.sql")
            found.append(Migration(self.name, int(match.group(1)), path.name, path.read_text()))
        versions = [m.version for m in found]
        if len(set(versions)) != len(versions):
            raise MigrationError(f"{self.directory}: two migrations share a version number")
        return found


async def migrate(conn: asyncpg.Connection, schema: str, sources: list[MigrationSource]) -> list[str]:
    """Applies what is missing in `schema`; returns the names applied. An edited, applied file is refused."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise MigrationError(f"invalid schema name {schema!r}")
    applied: list[str] = []
    # Several replicas may start at once; one migrates, the others wait and then find nothing to do.
    lock_key = int.from_bytes(hashlib.sha256(f"migrate:{schema}".encode()).digest()[:8], "big", signed=True)
    await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
    try:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                   source text NOT NULL, version int NOT NULL, name text NOT NULL, checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (source, version))"""
        )
        done = {
            (r["source"], r["version"]): r["checksum"]
            for r in await conn.fetch(f"SELECT source, version, checksum FROM {schema}.schema_migrations")
        }
        for source in sources:
            for m in source.load():
                if (m.source, m.version) in done:
                    if done[(m.source, m.version)] != m.checksum:
                        raise MigrationError(f"{m.source}/{m.name} changed after it was applied; add a new one")
                    continue
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL search_path TO {schema}")
                    await conn.execute(m.sql)
                    await conn.execute(
                        f"INSERT INTO {schema}.schema_migrations (source, version, name, checksum)"
                        " VALUES ($1, $2, $3, $4)",
                        m.source,
                        m.version,
                        m.name,
                        m.checksum,
                    )
                log.info("applied migration", extra={"schema": schema, "migration": f"{m.source}/{m.name}"})
                applied.append(f"{m.source}/{m.name}")
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)
    return applied


async def migrate_database(dsn: str, schema: str, sources: list[MigrationSource]) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn, schema, sources)
    finally:
        await conn.close()
