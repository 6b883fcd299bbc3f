"""The retention clock end to end: events on Kafka, the vault's schedule, the job at exact days, order.redacted."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from .harness import (
    PURCHASED,
    connection_event,
    days,
    order_cancelled,
    order_completed,
    order_received,
    running,
    shipment_confirmed,
)

DONE = datetime(2026, 8, 10, 9, 0, tzinfo=UTC)


async def test_completed_and_cancelled_orders_are_redacted_at_day_30_and_not_day_29(
    database_url: str, kafka_bootstrap: str, namespace: str, producer: AIOKafkaProducer
) -> None:
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, namespace=namespace) as h:
        ids = ["111-0000001-0000001", "111-0000001-0000002", "111-0000001-0000003"]
        await h.send(producer, *(order_received(i) for i in ids))
        await h.send(
            producer,
            order_completed(ids[0], DONE),
            order_completed(ids[1], DONE, status="cancelled"),
            order_cancelled(ids[2], DONE),
        )
        for i in ids:
            row = await h.until_due(i, DONE + days(30))
            assert row["sealed"] is not None

        h.at(DONE + days(29.99))
        assert await h.redact() == []
        async with h.api("viewer") as api:
            view = (await api.get(f"/admin/orders/{ids[0]}")).json()
        assert view["pii"]["buyer_name"] == "held"
        assert view["redacted_at"] is None

        h.at(DONE + days(30))
        assert await h.redact() == sorted(ids)
        events = await h.redacted_events(expect=3)
        assert sorted(e.data.amazon_order_id for e in events) == sorted(ids)
        assert {e.data.reason for e in events} == {"retention_elapsed"}
        async with h.api("viewer") as api:
            view = (await api.get(f"/admin/orders/{ids[1]}")).json()
            listing = (await api.get("/admin/redactions")).json()
        assert view["redacted_at"] is not None
        assert set(view["pii"].values()) == {"REDACTED"}
        assert view["purchase_date"] is not None and view["status"] == "Unshipped"
        assert listing["counts"]["done"] == 3 and listing["counts"]["overdue"] == 0
        rows = await h.fetch("SELECT sealed, nonce, key_id FROM vault")
        assert all(r["sealed"] is None and r["nonce"] is None and r["key_id"] is None for r in rows)


async def test_refulfilment_restarts_the_clock_and_a_rejected_confirmation_does_not(
    database_url: str, kafka_bootstrap: str, namespace: str, producer: AIOKafkaProducer
) -> None:
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, namespace=namespace) as h:
        order = "111-0000002-0000001"
        shipped = datetime(2026, 8, 8, 23, 51, tzinfo=UTC)
        await h.send(producer, order_received(order), shipment_confirmed(order, shipped))
        row = await h.until(order, "last_shipped_at")
        assert row["clock_source"] == "shipment" and row["redact_at"] == shipped + days(30)
        # A completion after the shipment does not move a clock that has already started.
        await h.send(producer, order_completed(order, shipped + days(1)))
        await h.until(order, "completed_at")

        again = shipped + days(20)
        await h.send(producer, shipment_confirmed(order, again, shipment_id="SHP-2"))
        await h.send(producer, shipment_confirmed(order, again + days(5), shipment_id="SHP-3", outcome="rejected"))
        await h.send(producer, order_received("111-0000002-0000002"))  # a marker: everything before it was applied
        await h.until("111-0000002-0000002", "purchase_date")
        row = await h.row(order)
        assert row and row["clock_started_at"] == again and row["redact_at"] == again + days(30)

        h.at(shipped + days(30))
        assert await h.redact() == []
        h.at(again + days(30))
        assert await h.redact() == [order]


async def test_a_shortened_retention_applies_also_to_orders_already_held_and_30_is_the_ceiling(
    database_url: str, kafka_bootstrap: str, namespace: str, producer: AIOKafkaProducer
) -> None:
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, namespace=namespace) as h:
        await h.send(producer, connection_event("conn-short", revision=1, pii_retention_days=10))
        first, second, other = "111-0000003-0000001", "111-0000003-0000002", "111-0000003-0000003"
        await h.send(
            producer,
            order_received(first, connection_id="conn-short"),
            order_completed(first, DONE, connection_id="conn-short"),
            order_received(other),
            order_completed(other, DONE),
        )
        await h.until_due(first, DONE + days(10))
        await h.until_due(other, DONE + days(30))

        await h.send(producer, connection_event("conn-short", revision=2, pii_retention_days=3))
        await h.send(
            producer,
            order_received(second, connection_id="conn-short"),
            order_completed(second, DONE + days(1), connection_id="conn-short"),
        )
        await h.until_due(second, DONE + days(4))
        assert (await h.row(first))["redact_at"] == DONE + days(3)  # type: ignore[index]

        h.at(DONE + days(3))
        assert await h.redact() == [first]
        h.at(DONE + days(4))
        assert await h.redact() == [second]
        h.at(DONE + days(29))
        assert await h.redact() == []


async def test_an_order_never_completed_is_redacted_at_the_hard_maximum_and_reported(
    database_url: str, kafka_bootstrap: str, namespace: str, producer: AIOKafkaProducer
) -> None:
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, namespace=namespace, hard_max_days=60
    ) as h:
        order = "111-0000004-0000001"
        await h.send(producer, order_received(order))
        row = await h.until(order, "redact_at")
        assert row["redact_at"] == PURCHASED + days(60) and row["redact_basis"] == "hard_maximum"
        h.at(PURCHASED + days(59.9))
        assert await h.redact() == []
        async with h.api("viewer") as api:
            soon = (await api.get("/admin/redactions")).json()
        assert [o["amazon_order_id"] for o in soon["due_soon"]] == [order]
        h.at(PURCHASED + days(60))
        assert await h.redact() == [order]
        async with h.api("viewer") as api:
            done = (await api.get("/admin/redactions")).json()
        assert done["counts"]["done_at_hard_maximum"] == 1
        assert done["done"][0]["redact_basis"] == "hard_maximum"
