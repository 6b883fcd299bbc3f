"""A handler with an idempotent effect, shared by the messaging tests and their subprocesses."""

from __future__ import annotations

import asyncio

import asyncpg
import contracts
from messaging import claim


def counting_handler(pool: asyncpg.Pool, consumer: str, delay: float = 0.0):
    async def handle(event: contracts.CloudEvent) -> None:
        if delay:
            await asyncio.sleep(delay)
        async with pool.acquire() as conn, conn.transaction():
            if await claim(conn, consumer, str(event.id)):
                await conn.execute(
                    "INSERT INTO effects (event_id, sku, seen) VALUES ($1, $2, 1)", str(event.id), event.data.sku
                )
            else:
                # A redelivery: recorded so tests can see the inbox did its job.
                await conn.execute("UPDATE effects SET seen = seen + 1 WHERE event_id = $1", str(event.id))

    return handle
