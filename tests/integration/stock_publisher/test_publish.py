"""stock-publisher against real Kafka and PostgreSQL and the sandbox (writes applied 0.3 s after acceptance)."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer
from testkit import eventually
from testkit.sandbox import Sandbox

from .harness import (
    Topicset,
    connection_event,
    create_listings,
    fast,
    fetch,
    listing_event,
    published,
    running,
    send,
    stock_event,
)

CONN = "conn-stock-1"


def quantities(sandbox: Sandbox, sku: str) -> list[int]:
    return [e["value"] for e in sandbox.ledger(sku=sku, kind="quantity")]


async def test_warehouses_rules_links_and_channels(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    await create_listings(sandbox, ["A", "B1", "B2", "C"], item_name="Kept name", handling_time=7)
    await create_listings(sandbox, ["F"], fulfillment="AFN", quantity=None)
    now = datetime.now(UTC)
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        await send(producer, topics, [
            connection_event(CONN, stock_warehouse_ids=["W1", "W2"], stock_buffer=1, stock_cap=40, stock_zero_below=3),
            listing_event(CONN, "A"),
            listing_event(CONN, "B1", item_id="ITEM-B"),
            listing_event(CONN, "B2", item_id="ITEM-B"),
            listing_event(CONN, "C"),
            listing_event(CONN, "F", channel="FBA"),
        ])  # fmt: skip
        await send(producer, topics, [
            stock_event("A", "W1", 10, now),
            stock_event("A", "W2", 5, now),
            stock_event("A", "W3", 100, now),  # not a stock warehouse of the connection
            stock_event("A", "W1", 99, now - timedelta(minutes=1)),  # older than the one kept: ignored
            stock_event("ITEM-B", "W1", 50, now),
            stock_event("ITEM-B", "W2", 10, now),
            stock_event("C", "W1", 3, now),  # 3 - buffer 1 = 2, under 3: Amazon is told 0
            stock_event("F", "W1", 10, now),  # FBA: never sent
            stock_event("UNLISTED", "W1", 7, now),
            stock_event("UNLISTED", "W1", 8, now + timedelta(seconds=1)),
        ])  # fmt: skip
        events = await published(kafka_bootstrap, topics, expect=8)
        accepted = {e.sku: e for e in events if e.verification is None}
        applied = {e.sku: e for e in events if e.verification == "applied"}
        assert {s: e.quantity for s, e in accepted.items()} == {"A": 14, "B1": 40, "B2": 40, "C": 0}
        assert all(e.outcome == "accepted" and e.channel == "listings_api" for e in accepted.values())
        assert {s: e.amazon_quantity for s, e in applied.items()} == {"A": 14, "B1": 40, "B2": 40, "C": 0}
        assert quantities(sandbox, "A") == [14] and quantities(sandbox, "B2") == [40]
        assert quantities(sandbox, "C") == [0]
        assert sandbox.ledger(sku="F") == [] and sandbox.ledger(sku="UNLISTED") == []
        assert [e["value"] for e in sandbox.ledger(sku="A", kind="handling_time")] == [2]
        unlisted = await fetch(database_url, "SELECT item_id FROM unlisted_items")
        assert [r["item_id"] for r in unlisted] == ["UNLISTED"]

        # A quantity-only change: the handling time rides along again, the listing's other attributes stay.
        await send(producer, topics, [stock_event("A", "W2", 6, now + timedelta(seconds=1))])
        await eventually(lambda: _async(quantities(sandbox, "A") == [14, 15]), timeout=15)
        assert [e["value"] for e in sandbox.ledger(sku="A", kind="handling_time")] == [2, 2]
        listing = sandbox.listing("A")
        assert listing["item_name"] == "Kept name" and listing["quantity"] == 15 and listing["handling_time"] == 2
        assert quantities(sandbox, "B1") == [40]  # unchanged: not sent again

        async with h.api("viewer") as api:
            view = (await api.get("/admin/skus/A")).json()
        state = view["states"][0]
        assert state["accepted_quantity"] == 15 and state["sent_handling"] == 2
        assert {(s["warehouse_id"], s["available"]) for s in view["stock"]} == {("W1", 10), ("W2", 6), ("W3", 100)}


async def _async(value: bool) -> bool:
    return value


async def test_many_skus_go_as_one_feed_and_nothing_is_sent_again(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    count = int(os.environ.get("STOCK_TEST_SKUS", "10000"))
    # The sandbox's catalog generator: standalone MFN listings SKU-000001, SKU-000002, ... in one request.
    made = sandbox.client.post(
        "/_sandbox/generator/catalog",
        json={"seller_id": sandbox.seller_id, "count": count, "fba_share": 0, "family_size": 0, "prefix": "SKU"},
    )
    made.raise_for_status()
    skus = [f"SKU-{n:06d}" for n in range(1, count + 1)]
    now = datetime.now(UTC)
    tuning = fast(apply_delay=timedelta(days=1))  # read-back is tested elsewhere; 10,000 reads are not needed here
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, tuning=tuning
    ) as h:
        # Stock and listings first, the connection last: its arrival starts one push of everything.
        await send(producer, topics, [listing_event(CONN, s) for s in skus])
        await send(producer, topics, [stock_event(s, "W1", i % 50, now) for i, s in enumerate(skus)])

        async def consumed() -> bool:
            rows = await fetch(
                database_url, "SELECT (SELECT count(*) FROM stock_levels) + (SELECT count(*) FROM listings) AS n"
            )
            return bool(rows[0]["n"] == 2 * count)

        await eventually(consumed, timeout=60, interval=0.2)
        await send(producer, topics, [connection_event(CONN, stock_warehouse_ids=["W1"])])

        async def feeds_done() -> list[object] | None:
            rows = await fetch(database_url, "SELECT status FROM feeds")
            done = [r for r in rows if r["status"] == "DONE"]
            states = await fetch(
                database_url, "SELECT count(*) AS n FROM sku_state WHERE accepted_quantity IS NOT NULL"
            )
            return rows if rows and len(done) == len(rows) and states[0]["n"] == count else None

        feeds = await eventually(feeds_done, timeout=90, interval=0.5)
        assert 1 <= len(feeds) <= 3
        ledger = sandbox.ledger(kind="quantity")
        assert len(ledger) == count and {e["sku"] for e in ledger} == set(skus)
        assert len(sandbox.requests(operation="createFeed")) == len(feeds)
        assert len(sandbox.requests(operation="patchListingsItem")) == 0

        # The feed's end makes a push due (SKUs may have changed while inside it): it finds nothing to send.
        async with h.api("viewer") as api:

            async def push_after_feed() -> dict[str, object] | None:
                runs = (await api.get("/admin/sync-runs", params={"trigger": "scheduled"})).json()
                done = [r for r in runs if r["status"] == "succeeded" and r["records_unchanged"] == count]
                return done[0] if done else None

            run = await eventually(push_after_feed, timeout=30)
        assert run["records_considered"] == count and run["records_succeeded"] == 0
        assert len(sandbox.ledger(kind="quantity")) == count
        assert len(sandbox.requests(operation="createFeed")) == len(feeds)


async def test_switched_off_sends_nothing_and_on_again_sends_what_differs_and_stock_sync_forces(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    await create_listings(sandbox, ["S1", "S2"])
    now = datetime.now(UTC)
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        await send(producer, topics, [
            connection_event(CONN, stock_warehouse_ids=["W1"], stock_sync_enabled=False),
            listing_event(CONN, "S1"),
            listing_event(CONN, "S2"),
            stock_event("S1", "W1", 4, now),
            stock_event("S2", "W1", 9, now),
        ])  # fmt: skip
        await eventually(lambda: _count(database_url, "SELECT count(*) AS n FROM stock_levels", 2), timeout=15)
        await asyncio.sleep(1.0)  # three coalesce windows: a push would have gone by now
        assert sandbox.ledger(kind="quantity") == []
        async with h.api() as api:
            refused = await api.post(f"/admin/connections/{CONN}/stock-sync", json={})
            assert refused.status_code == 409

        await send(producer, topics, [connection_event(CONN, 2, stock_warehouse_ids=["W1"], stock_sync_enabled=True)])
        await eventually(lambda: _async(len(sandbox.ledger(kind="quantity")) == 2), timeout=15)
        assert quantities(sandbox, "S1") == [4] and quantities(sandbox, "S2") == [9]

        # Amazon already has 4 for S1; an operator sends it anyway.
        async with h.api() as api:
            answer = await api.post(f"/admin/connections/{CONN}/stock-sync", json={"skus": ["S1"]})
            assert answer.status_code == 202
        await eventually(lambda: _async(quantities(sandbox, "S1") == [4, 4]), timeout=15)
        assert quantities(sandbox, "S2") == [9]


async def _count(database_url: str, sql: str, expected: int) -> bool:
    rows = await fetch(database_url, sql)
    return bool(rows[0]["n"] == expected)
