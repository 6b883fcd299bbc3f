"""The outbox relay: per-key order with several relays and writers, parking, and PII rows leaving the outbox."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import contracts
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from aiokafka.errors import UnknownTopicOrPartitionError
from messaging import KafkaSettings, OutboxRelay, add, ensure_topics, kafka_producer
from prometheus_client import REGISTRY
from testkit import eventually, read_topic

from .conftest import LIB_SCHEMA, STOCK

KEY = "SKU-ONE-KEY"


def _same_key_event(n: int) -> contracts.CloudEvent:
    data = contracts.StockChangedV1(
        sku=KEY, warehouse_id="WH-1", available=n, as_of=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=n)
    )
    return contracts.new_event(STOCK, data, source="tests", revision=str(n))


@pytest_asyncio.fixture
async def pools(database_url: str) -> AsyncIterator[list[asyncpg.Pool]]:
    """One pool per replica: two relays and the writers."""
    made = [
        await asyncpg.create_pool(database_url, min_size=1, max_size=6, server_settings={"search_path": LIB_SCHEMA})
        for _ in range(3)
    ]
    yield made
    for pool in made:
        await pool.close()


async def _parked(pool: asyncpg.Pool, name: str, reason: str) -> float:
    return REGISTRY.get_sample_value("outbox_parked_total", {"topic": name, "reason": reason}) or 0.0


async def test_two_relays_and_concurrent_writers_keep_one_keys_events_in_commit_order(
    pools: list[asyncpg.Pool], kafka: KafkaSettings, topic: str, kafka_bootstrap: str
) -> None:
    writers, *relay_pools = pools
    async with writers.acquire() as conn:
        # `n` is taken under a row lock held to commit, so n order is commit order.
        await conn.execute("CREATE TABLE state (n int NOT NULL); INSERT INTO state VALUES (0)")
        await conn.execute("CREATE TABLE commit_log (event_id text PRIMARY KEY, n int NOT NULL)")
    rng = random.Random(3)

    async def write(n: int) -> None:
        event = _same_key_event(n)
        async with writers.acquire() as conn, conn.transaction():
            await add(conn, event)
            # Other work in the transaction before the commit: a writer that recorded later may commit first.
            await asyncio.sleep(rng.uniform(0, 0.03))
            order = await conn.fetchval("UPDATE state SET n = n + 1 RETURNING n")
            await conn.execute("INSERT INTO commit_log VALUES ($1, $2)", str(event.id), order)

    async with kafka_producer(kafka) as p1, kafka_producer(kafka) as p2:
        relays = [
            OutboxRelay(pool, producer, namespace=kafka.namespace, idle_seconds=0.02, standby_seconds=0.05)
            for pool, producer in zip(relay_pools, (p1, p2), strict=True)
        ]
        tasks = [asyncio.create_task(r.run()) for r in relays]
        both_led = False

        async def watch() -> None:
            nonlocal both_led
            while True:
                both_led = both_led or all(r.is_leader for r in relays)
                await asyncio.sleep(0.005)

        watcher = asyncio.create_task(watch())
        try:
            await eventually(lambda: asyncio.sleep(0, result=any(r.is_leader for r in relays)), timeout=10)
            await asyncio.gather(*(write(n) for n in range(30)))
            # The leader goes away; the standby takes over and the writes go on.
            leader = next(r for r in relays if r.is_leader)
            await leader.stop()
            await tasks[relays.index(leader)]
            await asyncio.gather(*(write(n) for n in range(30, 60)))
            records = await read_topic(kafka_bootstrap, topic, expect=60, timeout=30)
        finally:
            watcher.cancel()
            for r in relays:
                await r.stop()
            await asyncio.gather(*tasks)

    assert not both_led, "two relays led the same schema at once"
    async with writers.acquire() as conn:
        commit_order = {r["event_id"]: r["n"] for r in await conn.fetch("SELECT event_id, n FROM commit_log")}
    on_topic = [commit_order[dict(r.headers)["ce_id"].decode()] for r in records]
    assert len({r.partition for r in records}) == 1
    assert on_topic == list(range(1, 61)), "the topic's order of the key's events is not their commit order"


async def test_a_row_kafka_never_accepts_is_parked_and_the_rows_behind_it_go_out(
    pool: asyncpg.Pool, producer: AIOKafkaProducer, kafka: KafkaSettings, topic: str, kafka_bootstrap: str
) -> None:
    pii_topic = "order.received"
    before = {
        "large": await _parked(pool, STOCK, "too-large"),
        "topic": await _parked(pool, "no such topic!", "invalid-topic"),
    }
    async with pool.acquire() as conn, conn.transaction():
        await add(conn, _same_key_event(1))
        await conn.execute(
            "INSERT INTO outbox (topic, key, value) VALUES ($1, $2, $3), ($4, $2, $5), ($6, $2, $3)",
            STOCK,
            b"SKU-HUGE",
            b"x" * 2_000_000,
            "no such topic!",
            b"{}",
            pii_topic,
        )
        await add(conn, _same_key_event(2))

    relay = OutboxRelay(pool, producer, namespace=kafka.namespace)
    assert await relay.publish_batch() == 5
    assert await relay.publish_batch() == 0, "a parked row came back"

    records = await read_topic(kafka_bootstrap, topic, expect=2)
    assert [json.loads(r.value)["data"]["available"] for r in records] == [1, 2]
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT topic, sent_at IS NOT NULL AS sent, park_reason, value IS NULL AS no_value FROM outbox ORDER BY id"
        )
    assert [(r["topic"], r["sent"]) for r in rows] == [
        (STOCK, True),
        (STOCK, False),
        ("no such topic!", False),
        (pii_topic, False),
        (STOCK, True),
    ]
    reasons = [r["park_reason"] for r in rows]
    assert reasons[0] is None and reasons[4] is None
    assert reasons[1].startswith("too-large: 2000")
    assert reasons[2].startswith("invalid-topic")
    assert reasons[3].startswith("too-large")
    assert rows[3]["no_value"], "a parked PII row keeps no value"
    assert not rows[1]["no_value"], "a parked row of another topic keeps its value for inspection"
    assert await _parked(pool, STOCK, "too-large") == before["large"] + 1
    assert await _parked(pool, "no such topic!", "invalid-topic") == before["topic"] + 1


async def test_rows_kafka_acknowledged_stay_sent_when_a_later_row_of_the_batch_fails(
    pool: asyncpg.Pool, kafka: KafkaSettings, topic: str, kafka_bootstrap: str
) -> None:
    # order.cancelled does not exist in this namespace yet: sending it fails after the metadata timeout.
    async with pool.acquire() as conn, conn.transaction():
        await add(conn, _same_key_event(1))
        await add(conn, _same_key_event(2))
        await add(conn, contracts.example_event("order.cancelled"))
        await add(conn, _same_key_event(3))
    impatient = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, acks="all", enable_idempotence=True, request_timeout_ms=1500
    )
    await impatient.start()
    try:
        relay = OutboxRelay(pool, impatient, namespace=kafka.namespace)
        try:
            await relay.publish_batch()
        except UnknownTopicOrPartitionError:
            pass
        else:
            raise AssertionError("the missing topic did not fail the batch")
        async with pool.acquire() as conn:
            unsent = await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        assert unsent == 2, "the acknowledged rows were not marked sent"

        cancelled = [t for t in contracts.kafka_topics() if t.name == "order.cancelled"]
        await ensure_topics(kafka.bootstrap_servers, cancelled, namespace=kafka.namespace)
        assert await eventually(relay.publish_batch, timeout=20) == 2
    finally:
        await impatient.stop()
    records = await read_topic(kafka_bootstrap, topic, expect=3)
    assert [json.loads(r.value)["data"]["available"] for r in records] == [1, 2, 3], "acknowledged rows re-sent"


async def test_sent_pii_rows_leave_the_outbox_within_the_window_and_stale_unsent_ones_raise_a_metric(
    pool: asyncpg.Pool, producer: AIOKafkaProducer, kafka: KafkaSettings, kafka_bootstrap: str
) -> None:
    received = [t for t in contracts.kafka_topics() if t.name == "order.received"]
    await ensure_topics(kafka_bootstrap, received, namespace=kafka.namespace)
    buyer = contracts.EXAMPLES["order.received"][0]["buyer_name"]
    async with pool.acquire() as conn, conn.transaction():
        await add(conn, contracts.example_event("order.received", 0))
        await add(conn, contracts.example_event("order.received", 1))
        await add(conn, _same_key_event(1))
    window = timedelta(milliseconds=300)
    relay = OutboxRelay(
        pool, producer, namespace=kafka.namespace, keep_sent_pii=window, purge_every=timedelta(milliseconds=100)
    )
    task = asyncio.create_task(relay.run())
    try:
        published = await read_topic(kafka_bootstrap, kafka.topic("order.received"), expect=2)
        assert any(buyer.encode() in r.value for r in published), "the event itself carries the PII, by design"

        async def pii_gone() -> bool:
            async with pool.acquire() as conn:
                return await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'order.received'") == 0

        await eventually(pii_gone, timeout=10)
    finally:
        await relay.stop()
        await task
    async with pool.acquire() as conn:
        dump = json.dumps([{k: str(v) for k, v in dict(r).items()} for r in await conn.fetch("SELECT * FROM outbox")])
        sent_at = await conn.fetchval("SELECT max(sent_at) FROM outbox WHERE topic = $1", STOCK)
    assert STOCK in dump and sent_at is not None, "rows of other topics stay for the usual day"
    assert "order.received" not in dump and buyer not in dump

    # An order.received row the relay could not send for an hour: the gauges say so.
    async with pool.acquire() as conn, conn.transaction():
        await add(conn, contracts.example_event("order.received", 0))
        await conn.execute("UPDATE outbox SET created_at = now() - interval '1 hour' WHERE sent_at IS NULL")
    await OutboxRelay(pool, producer, pii_unsent_alert=timedelta(minutes=15)).purge_and_measure()
    assert REGISTRY.get_sample_value("outbox_stale_pii_rows") == 1
    assert (REGISTRY.get_sample_value("outbox_oldest_unsent_pii_seconds") or 0) >= 3600


async def test_when_the_leaders_connection_dies_a_relay_takes_over_and_none_ends(
    pools: list[asyncpg.Pool], kafka: KafkaSettings, topic: str, kafka_bootstrap: str
) -> None:
    writers, *relay_pools = pools
    async with kafka_producer(kafka) as p1, kafka_producer(kafka) as p2:
        relays = [
            OutboxRelay(pool, producer, namespace=kafka.namespace, idle_seconds=0.02, standby_seconds=0.05)
            for pool, producer in zip(relay_pools, (p1, p2), strict=True)
        ]
        tasks = [asyncio.create_task(r.run()) for r in relays]
        try:
            await eventually(lambda: asyncio.sleep(0, result=any(r.is_leader for r in relays)), timeout=10)
            outages = REGISTRY.get_sample_value("worker_outages_total", {"worker": "outbox-relay"}) or 0.0
            async with writers.acquire() as conn:
                # Only the leader holds a session-level advisory lock in this database.
                killed = await conn.fetchval(
                    "SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l"
                    " WHERE l.locktype = 'advisory' AND l.granted AND l.database ="
                    " (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            assert killed == 1

            async def noticed() -> bool:
                return (REGISTRY.get_sample_value("worker_outages_total", {"worker": "outbox-relay"}) or 0.0) > outages

            await eventually(noticed, timeout=10)
            await eventually(lambda: asyncio.sleep(0, result=any(r.is_leader for r in relays)), timeout=10)
            async with writers.acquire() as conn, conn.transaction():
                await add(conn, _same_key_event(1))
            assert len(await read_topic(kafka_bootstrap, topic, expect=1)) == 1
            assert not any(t.done() for t in tasks), "a relay ended when its connection was cut"
        finally:
            for r in relays:
                await r.stop()
            await asyncio.gather(*tasks)
