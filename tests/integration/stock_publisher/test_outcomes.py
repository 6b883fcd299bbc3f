"""Amazon's verdicts: processing-report errors, drift found on read-back, and a restart while a feed is followed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from testkit import eventually
from testkit.sandbox import Sandbox

from .harness import (
    Harness,
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

CONN = "conn-stock-2"


async def _arrange(h: Harness, producer: AIOKafkaProducer, topics: Topicset, skus: list[str], **settings: Any) -> None:
    """Listings and stock first, then the connection: one push of everything."""
    now = datetime.now(UTC)
    await send(producer, topics, [listing_event(CONN, s) for s in skus])
    await send(producer, topics, [stock_event(s, "W1", 5 + i, now) for i, s in enumerate(skus)])

    async def consumed() -> bool:
        rows = await fetch(h.database_url, "SELECT count(*) AS n FROM stock_levels")
        listed = await fetch(h.database_url, "SELECT count(*) AS n FROM listings")
        return bool(rows[0]["n"] == len(skus) and listed[0]["n"] == len(skus))

    await eventually(consumed, timeout=20)
    await send(producer, topics, [connection_event(CONN, stock_warehouse_ids=["W1"], **settings)])


async def test_processing_report_errors_reach_stock_published_and_sync_history(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    skus = [f"R-{i:02d}" for i in range(30)]
    await create_listings(sandbox, [s for s in skus if s != "R-07"])  # Amazon has no listing for R-07
    tuning = fast(apply_delay=timedelta(days=1), patch_max_skus=20)  # 30 SKUs: a feed
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, tuning=tuning
    ) as h:
        await _arrange(h, producer, topics, skus)
        events = await published(kafka_bootstrap, topics, expect=30)
        rejected = [e for e in events if e.outcome == "rejected"]
        assert [e.sku for e in rejected] == ["R-07"]
        assert rejected[0].channel == "listings_feed" and rejected[0].issues[0].severity == "ERROR"
        assert rejected[0].issues[0].code == "18027"
        assert all(e.submission_id == rejected[0].submission_id for e in events)
        async with h.api("viewer") as api:
            runs = (await api.get("/admin/sync-runs", params={"trigger": "feed"})).json()
            assert len(runs) == 1 and runs[0]["status"] == "failed"
            assert runs[0]["records_succeeded"] == 29 and runs[0]["records_failed"] == 1
            detail = (await api.get(f"/admin/sync-runs/{runs[0]['id']}")).json()
        assert [e["sku"] for e in detail["errors"]] == ["R-07"]
        assert "18027" in detail["errors"][0]["error"]
        assert len(sandbox.requests(operation="createFeed")) == 1


async def test_drift_is_detected_and_sent_again(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    await create_listings(sandbox, ["D"])
    tuning = fast(apply_delay=timedelta(seconds=150))  # read back 1.5 s after acceptance; applied after 0.3 s
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, tuning=tuning
    ) as h:
        await _arrange(h, producer, topics, ["D"])
        await eventually(lambda: _ready(sandbox.listing("D")["quantity"] == 5), timeout=10, interval=0.05)
        # Something else changes Amazon's quantity between the apply and our read-back.
        await create_listings(sandbox, ["D"], quantity=3)
        events = await published(kafka_bootstrap, topics, expect=4, timeout=20)
        assert [(e.outcome, e.verification, e.quantity, e.amazon_quantity) for e in events] == [
            ("accepted", None, 5, None),
            ("accepted", "drifted", 5, 3),
            ("accepted", None, 5, None),
            ("accepted", "applied", 5, 5),
        ]
        assert [e["value"] for e in sandbox.ledger(sku="D", kind="quantity")] == [5, 5]
        rows = await fetch(h.database_url, "SELECT drifts, applied_quantity FROM sku_state WHERE sku = 'D'")
        assert (rows[0]["drifts"], rows[0]["applied_quantity"]) == (1, 5)


async def _ready(value: bool) -> bool:
    return value


async def test_restart_while_a_feed_is_followed_submits_nothing_twice(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    skus = [f"K-{i:02d}" for i in range(40)]
    await create_listings(sandbox, skus)
    # The first getFeed comes 3 s after createFeed: the process dies in between.
    slow_follow = fast(apply_delay=timedelta(days=1), feed_poll=timedelta(seconds=300), patch_max_skus=20)
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, tuning=slow_follow
    ) as h:
        await _arrange(h, producer, topics, skus)

        async def submitted() -> bool:
            rows = await fetch(database_url, "SELECT status FROM feeds")
            return [r["status"] for r in rows] == ["submitted"]

        await eventually(submitted, timeout=20, interval=0.05)
        await h.crash()
    assert len(sandbox.requests(operation="createFeed")) == 1
    async with running(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        sandbox=sandbox,
        topics=topics,
        tuning=fast(apply_delay=timedelta(days=1), patch_max_skus=20),
    ):
        events = await published(kafka_bootstrap, topics, expect=40, timeout=30)
        assert sorted(e.sku for e in events) == skus and {e.outcome for e in events} == {"accepted"}
        rows = await fetch(database_url, "SELECT status FROM feeds")
        assert [r["status"] for r in rows] == ["DONE"]
    assert len(sandbox.requests(operation="createFeed")) == 1
    assert len(sandbox.ledger(kind="quantity")) == 40
