"""A run that meets data nobody foresaw: that order fails (type and line, no values) or the run fails and backs off;
nothing spins, the process lives on, the watermark moves."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from orders_ingest import domain
from testkit import eventually
from testkit.sandbox import Sandbox

from .harness import running

SECRET = "Quentin-Zebulon-77"


async def test_an_order_that_breaks_the_mapping_fails_alone_and_the_watermark_moves_on(
    database_url, kafka_bootstrap, sandbox: Sandbox, topics, producer, monkeypatch
) -> None:
    mapped = domain.order_received

    def breaks_on_one(order, connection, key):
        if any(item.product.seller_sku == "BOOM-1" for item in order.order_items):
            raise RuntimeError(f"cannot map the order of {SECRET}")  # a bug whose message quotes the order
        return mapped(order, connection, key)

    monkeypatch.setattr(domain, "order_received", breaks_on_one)
    good = [sandbox.create_order([{"sku": f"FINE-{n}", "quantity": 1}]) for n in range(2)]
    bad = sandbox.create_order([{"sku": "BOOM-1", "quantity": 1}])
    await sandbox.until_searchable(*good, bad)
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        (before,) = await h.fetch("SELECT now() AS at")
        await h.connect(producer, "conn-unexpected", order_poll_interval_minutes=240)
        events = await h.received(expect=2)
        run = await h.wait_for_run(trigger="scheduled")
        async with h.api("viewer") as api:
            detail = (await api.get(f"/admin/sync-runs/{run['id']}")).json()
        (schedule,) = await h.fetch("SELECT watermark FROM schedules WHERE connection_id = 'conn-unexpected'")

    assert sorted(e.data.amazon_order_id for e in events) == sorted(o["AmazonOrderId"] for o in good)
    assert (run["status"], run["records_published"], run["records_failed"], run["error"]) == ("failed", 2, 1, None)
    (error,) = detail["errors"]
    assert error["amazon_order_id"] == bad["AmazonOrderId"]
    assert error["error"].startswith("unexpected RuntimeError at ") and SECRET not in error["error"]
    # The poll read everything: the watermark went from the first poll's look-back (43 min here) to Amazon's horizon.
    assert schedule["watermark"] > before["at"] - timedelta(seconds=10)


async def test_a_run_that_breaks_unexpectedly_fails_with_its_error_type_and_backs_off(
    database_url, kafka_bootstrap, sandbox: Sandbox, topics, producer, monkeypatch
) -> None:
    def broken(settings, *, cancellations_only):
        raise ValueError(f"statuses of {SECRET}")

    monkeypatch.setattr(domain, "search_statuses", broken)
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        await h.connect(producer, "conn-broken", order_poll_interval_minutes=240)
        first = await h.wait_for_run(trigger="scheduled", status="failed")
        watched = time.monotonic()
        await asyncio.sleep(0)

        async def a_few_runs_later() -> list:
            runs = [r for r in await h.runs() if r["connection_id"] == "conn-broken"]
            return runs if time.monotonic() - watched > 4 else []

        runs = await eventually(a_few_runs_later, timeout=20, interval=0.5)
    assert first["error"].startswith("unexpected ValueError at ") and SECRET not in first["error"]
    assert all(r["status"] == "failed" for r in runs)
    # Backing off from 0.6 s (1 min at 100x), doubling: a handful of runs in 4 s, not one per scheduler tick.
    assert 2 <= len(runs) <= 6, [r["started_at"] for r in runs]
