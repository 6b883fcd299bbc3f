"""Consumers of shipment.created and order.received: plain async functions, wired in bootstrap."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import sellers
from contracts import CloudEvent, OrderReceivedV1, ShipmentCreatedV1
from prometheus_client import Counter

from shipment_relay import domain, repository

REPLAYED = Counter("shipments_replayed_total", "shipment.created events of shipments already known (no new call)")


async def shipment_created(
    event: CloudEvent[ShipmentCreatedV1], *, pool: asyncpg.Pool, queued: Callable[[], None]
) -> None:
    data = event.data
    async with pool.acquire() as conn, conn.transaction():
        connection = await sellers.connection(conn, data.connection_id)
        # The mapping as it is now decides; a connection not known yet ships with Amazon's codes or Other.
        settings = connection.settings if connection else None
        carriers = [domain.carrier_for(settings, p.carrier) for p in data.packages]
        stored = await repository.save_shipment(conn, data, carriers)
    if stored:
        queued()
    else:
        REPLAYED.inc()


async def order_received(event: CloudEvent[OrderReceivedV1], *, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await repository.save_order_items(conn, event.data)
