"""Consumers of shipment.created and order.received: plain async functions, wired in bootstrap.

Both take a fetched batch in one transaction (the consumer's batch routes): a transaction per event bounded
how fast shipments reached the confirmer, not Amazon's limits."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import sellers
from contracts import CloudEvent, OrderReceivedV1, ShipmentCreatedV1
from prometheus_client import Counter

from shipment_relay import domain, repository

REPLAYED = Counter("shipments_replayed_total", "shipment.created events of shipments already known (no new call)")


async def shipments_created(
    events: list[CloudEvent[ShipmentCreatedV1]], *, pool: asyncpg.Pool, queued: Callable[[], None]
) -> None:
    """All or nothing, in one transaction; a replayed (or twice batched) shipment changes nothing."""
    stored = replayed = 0
    async with pool.acquire() as conn, conn.transaction():
        for event in events:
            data = event.data
            connection = await sellers.connection(conn, data.connection_id)
            # The mapping as it is now decides; a connection not known yet ships with Amazon's codes or Other.
            settings = connection.settings if connection else None
            carriers = [domain.carrier_for(settings, p.carrier) for p in data.packages]
            if await repository.save_shipment(conn, data, carriers):
                stored += 1
            else:
                replayed += 1
    REPLAYED.inc(replayed)
    if stored:
        queued()


async def orders_received(events: list[CloudEvent[OrderReceivedV1]], *, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        for event in events:
            await repository.save_order_items(conn, event.data)
