"""Fixtures for the connection projection: a pool on a schema migrated with the lib's own migrations only."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import contracts
import messaging
import pytest_asyncio
import sellers
from servicekit import MigrationSource, migrate

SCHEMA = "sellers_test"
SOURCES = [MigrationSource("messaging", messaging.MIGRATIONS_DIR), MigrationSource("sellers", sellers.MIGRATIONS_DIR)]


def connection_event(
    connection_id: str = "conn-1", revision: int = 1, **changes: Any
) -> contracts.CloudEvent[contracts.ConnectionUpdatedV1]:
    raw = copy.deepcopy(contracts.EXAMPLES["connection.updated"][0])
    raw.update(connection_id=connection_id, revision=revision, updated_at=datetime.now(UTC).isoformat(), **changes)
    data = contracts.ConnectionUpdatedV1.model_validate(raw)
    return contracts.new_event("connection.updated", data, source="tests", revision=str(revision))


@pytest_asyncio.fixture
async def pool(empty_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    conn = await asyncpg.connect(empty_database_url)
    try:
        await migrate(conn, SCHEMA, SOURCES)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(
        empty_database_url, min_size=1, max_size=4, server_settings={"search_path": SCHEMA}
    )
    yield pool
    await pool.close()
