"""An asyncpg pool whose connections see only the service's own schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from servicekit.settings import PostgresSettings


@asynccontextmanager
async def postgres_pool(settings: PostgresSettings) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(
        settings.dsn.get_secret_value(),
        min_size=settings.min_size,
        max_size=settings.max_size,
        # search_path pins unqualified names to this service's schema: one schema per service.
        server_settings={"search_path": settings.schema_name, "application_name": settings.schema_name},
    )
    try:
        yield pool
    finally:
        await pool.close()


async def ping(pool: asyncpg.Pool) -> bool:
    try:
        async with pool.acquire(timeout=2) as conn:
            return bool(await conn.fetchval("SELECT 1", timeout=2) == 1)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
