"""Sync history of shipment-relay: confirmation passes, a resync that re-drives a run's failed shipment, the
cancellation feed's run and the flag for a completed order with items never confirmed."""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer
from testkit import eventually
from testkit.sandbox import Sandbox

from .harness import (
    Harness,
    Topicset,
    completed_event,
    connection_event,
    order_received_event,
    package,
    running,
    shipment_event,
)

CONN = "conn-history"


async def _runs(h: Harness, **query: Any) -> list[dict[str, Any]]:
    async with h.api("viewer") as api:
        answer = await api.get("/admin/sync-runs", params={"connection_id": CONN, **query})
    assert answer.status_code == 200, answer.text
    return list(answer.json())


async def _run(h: Harness, run_id: int) -> dict[str, Any]:
    async with h.api("viewer") as api:
        answer = await api.get(f"/admin/sync-runs/{run_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def _ship(h: Harness, sandbox: Sandbox, shipment_id: str, **order_fields: Any) -> str:
    order = sandbox.create_order([{"sku": "TENT", "quantity": 1}], **order_fields)
    await h.send("order.received", order_received_event(CONN, sandbox.seller_id, order))
    item = order["items"][0]["OrderItemId"]
    packages = [package(f"1Z-{shipment_id}", [{"order_item_id": item, "quantity": 1}])]
    await h.send("shipment.created", shipment_event(CONN, order["AmazonOrderId"], shipment_id, packages))
    return str(order["AmazonOrderId"])


async def test_runs_count_accepted_and_refused_shipments_and_a_resync_sends_the_refused_one_again(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, producer=producer
    ) as h:
        await h.send("connection.updated", connection_event(CONN, sandbox.seller_id))
        await _ship(h, sandbox, "SHP-OK")
        # Amazon refuses to confirm a shipment of an order it fulfils itself; our checks cannot know that.
        refused_order = await _ship(h, sandbox, "SHP-AFN", fulfillment_channel="AFN")
        await h.until_states("SHP-OK", "applied")
        refused = await h.until_states("SHP-AFN", "rejected")
        assert refused["packages"][0]["error_code"] == "InvalidInput"

        confirm = [r for r in await _runs(h) if r["lane"] == "confirm"]
        assert sum(r["records_failed"] for r in confirm) == 1
        # SHP-OK twice: accepted by the call, applied when the order showed it (a scheduled read-back).
        assert sum(r["records_succeeded"] for r in confirm) == 2
        assert sum(r["counts"].get("accepted", 0) for r in confirm) == 1
        assert any(r["trigger"] == "scheduled" and r["counts"].get("applied") == 1 for r in confirm)
        (failed,) = [r for r in confirm if r["records_failed"]]
        assert (failed["status"], failed["trigger"]) == ("failed", "event")
        assert "SHP-AFN" in failed["record_keys"]
        (error,) = (await _run(h, failed["id"]))["errors"]
        assert error["record_key"] == "SHP-AFN"
        assert error["error"].startswith("InvalidInput: ") and "merchant-fulfilled" in error["error"]

        async with h.api("operator") as api:
            answer = await api.post(f"/admin/sync-runs/{failed['id']}/resync")
        assert answer.status_code == 202, answer.text
        resync_id = answer.json()["id"]

        async def redriven() -> dict[str, Any]:
            run = await _run(h, resync_id)
            assert run["status"] == "succeeded", run
            return run

        resync = await eventually(redriven, timeout=10, interval=0.1)
        assert (resync["trigger"], resync["resync_of"]) == ("resync", failed["id"])
        assert resync["counts"] == {"requeued": 1} and resync["records_succeeded"] == 1

        async def sent_again() -> dict[str, Any]:
            (retried,) = [r for r in await _runs(h, trigger="retry") if r["lane"] == "confirm"]
            return retried

        retried = await eventually(sent_again, timeout=10, interval=0.1)
        assert (retried["status"], retried["records_failed"]) == ("failed", 1)
        calls = [r for r in sandbox.requests(operation="confirmShipment") if refused_order in r["path"]]
        assert len(calls) == 2  # re-driven once; the accepted shipment was never sent again
        assert len(sandbox.ledger(kind="shipment")) == 1


async def test_a_cancellation_feed_is_a_run_and_a_completed_order_with_unconfirmed_items_a_failed_record(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topics: Topicset, producer: AIOKafkaProducer
) -> None:
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, producer=producer
    ) as h:
        await h.send("connection.updated", connection_event(CONN, sandbox.seller_id))
        cancelled = sandbox.create_order([{"sku": "TENT", "quantity": 1}])
        unconfirmed = sandbox.create_order([{"sku": "TENT", "quantity": 2}, {"sku": "MUG", "quantity": 1}])
        for order in (cancelled, unconfirmed):
            await h.send("order.received", order_received_event(CONN, sandbox.seller_id, order))
        await h.send("order.completed", completed_event(CONN, cancelled["AmazonOrderId"], "cancelled", "NoInventory"))
        await h.send("order.completed", completed_event(CONN, unconfirmed["AmazonOrderId"], "completed"))
        assert (await h.cancellation(cancelled["AmazonOrderId"]))["state"] == "accepted"

        async def both() -> dict[str, dict[str, Any]]:
            runs = {r["lane"]: r for r in await _runs(h)}
            assert {"cancel", "completion"} <= set(runs), runs
            return runs

        runs = await eventually(both, timeout=10, interval=0.1)
        feed = runs["cancel"]
        assert (feed["status"], feed["trigger"], feed["records_succeeded"], feed["records_failed"]) == (
            "succeeded", "event", 1, 0,
        )  # fmt: skip
        assert feed["record_keys"] == [cancelled["AmazonOrderId"]]
        flagged = runs["completion"]
        assert (flagged["status"], flagged["records_failed"]) == ("failed", 1)
        (error,) = (await _run(h, flagged["id"]))["errors"]
        assert error["record_key"] == unconfirmed["AmazonOrderId"]
        assert "never confirmed: 2 items, 3 units" in error["error"]

        # ... and on shipment.confirmed: no packages, the never-confirmed items and units instead.
        events = await h.confirmed(expect=2)
        (flag,) = [e for e in events if e.unconfirmed is not None]
        assert (flag.amazon_order_id, flag.shipment_id, flag.packages) == (
            unconfirmed["AmazonOrderId"], f"completion:{unconfirmed['AmazonOrderId']}", [],
        )  # fmt: skip
        assert flag.cancellation is None
        assert sorted(i.quantity for i in flag.unconfirmed.items) == [1, 2]
        assert all(e.unconfirmed is None for e in events if e.amazon_order_id == cancelled["AmazonOrderId"])
