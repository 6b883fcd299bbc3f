"""Patches or feeds, chosen from the seller's buckets in the limiter as they are at the push."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer
from stock_publisher import domain
from testkit import eventually
from testkit.sandbox import Sandbox

from .harness import (
    SELLER,
    Topicset,
    connection_event,
    create_listings,
    fast,
    fetch,
    listing_event,
    running,
    send,
    stock_event,
)

CONN = "conn-stock-route"


async def test_patches_when_the_bucket_sends_them_in_the_window_a_feed_otherwise_and_patches_while_feeds_wait(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    skus = [f"P-{i:02d}" for i in range(50)]
    await create_listings(sandbox, skus)
    # Patches at 500/s (burst 5): 50 SKUs need 0.09 s, more than this 0.02 s window.
    tuning = fast(coalesce=timedelta(seconds=0.02), apply_delay=timedelta(days=1))
    now = datetime.now(UTC)
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, tuning=tuning
    ) as h:
        await send(producer, topics, [listing_event(CONN, s) for s in skus])
        await send(producer, topics, [stock_event(s, "W1", 10 + i, now) for i, s in enumerate(skus)])

        async def consumed() -> bool:
            rows = await fetch(database_url, "SELECT count(*) AS n FROM stock_levels")
            return bool(rows[0]["n"] == len(skus))

        await eventually(consumed, timeout=20)
        await send(producer, topics, [connection_event(CONN, stock_warehouse_ids=["W1"])])

        async def accepted(n: int) -> bool:
            rows = await fetch(database_url, "SELECT count(*) AS n FROM sku_state WHERE accepted_at IS NOT NULL")
            return bool(rows[0]["n"] == n)

        # 1. Too many for the patch bucket within the window, a feed slot free: one feed.
        await eventually(lambda: accepted(50), timeout=20)
        assert len(sandbox.requests(operation="createFeed")) == 1
        assert len(sandbox.requests(operation="patchListingsItem")) == 0

        # 2. Three SKUs fit the patch bucket's burst: patches.
        async with h.api() as api:
            answer = await api.post(f"/admin/connections/{CONN}/stock-sync", json={"skus": skus[:3]})
            assert answer.status_code == 202
        await eventually(lambda: _is(len(sandbox.requests(operation="patchListingsItem")) == 3), timeout=15)

        # 3. The feed bucket is empty and Amazon slowed it (next slot in ~1,000 s): the 50 SKUs go as patches
        #    at the patch bucket's rate instead of waiting for that slot.
        assert h.service is not None
        feed_bucket = h.service.sync.clients.limiter.bucket(SELLER, domain.FEED_BUCKET)
        feed_bucket.set_rate(0.001)
        feed_bucket.drain()
        async with h.api() as api:
            answer = await api.post(f"/admin/connections/{CONN}/stock-sync", json={"skus": skus})
            assert answer.status_code == 202
        await eventually(lambda: _is(len(sandbox.requests(operation="patchListingsItem")) == 53), timeout=15)
        assert len(sandbox.requests(operation="createFeed")) == 1
        assert len(sandbox.requests(operation="patchListingsItem", status=429)) == 0


async def _is(value: bool) -> bool:
    return value
