"""The job's guarantees: a replay cannot bring PII back; a crash or a second replica redacts nothing twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaProducer
from pii_redactor import vault
from pii_redactor.redaction import RedactionJob

from .harness import BUYER, days, order_completed, order_received, running

DONE = datetime(2026, 8, 10, 9, 0, tzinfo=UTC)


async def test_a_replay_of_order_received_after_redaction_does_not_bring_pii_back(
    database_url: str, kafka_bootstrap: str, namespace: str, producer: AIOKafkaProducer
) -> None:
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, namespace=namespace) as h:
        order = "112-0000001-0000001"
        received = order_received(order)
        await h.send(producer, received, order_completed(order, DONE))
        await h.until_due(order, DONE + days(30))
        h.at(DONE + days(30))
        assert await h.redact() == [order]

        # The same event again, and a newer revision of it: both meet the tombstone.
        newer = order_received(order, last_update_date="2026-09-20T10:00:00Z", status="Shipped")
        await h.send(producer, received, newer, order_received("112-0000001-0000002"))
        await h.until("112-0000001-0000002", "sealed")
        row = await h.row(order)
        assert row and row["sealed"] is None and row["redacted_at"] is not None and row["status"] == "Unshipped"
        async with h.api("pii_reader") as api:
            assert (await api.get(f"/admin/orders/{order}/pii", params={"reason": "replay check"})).status_code == 410
        dump = "".join(str(dict(r)) for r in await h.fetch("SELECT * FROM vault WHERE amazon_order_id = $1", order))
        assert not any(v in dump for v in BUYER.values())


async def _due_orders(h, producer: AIOKafkaProducer, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    ids = [f"112-0000002-{i:07d}" for i in range(n)]
    await h.send(producer, *(e for i in ids for e in (order_received(i), order_completed(i, DONE))))
    for i in ids:
        await h.until_due(i, DONE + days(30))
    return ids


async def test_a_crash_mid_batch_and_a_restart_lose_nothing_and_redact_nothing_twice(
    database_url: str, kafka_bootstrap: str, namespace: str, producer: AIOKafkaProducer
) -> None:
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, namespace=namespace, redaction_batch_size=7
    ) as h:
        ids = await _due_orders(h, producer, 30)
        h.at(DONE + days(30))
        assert h.service
        assert await h.service.job.run_batch() == 7

        # A replica dies inside its batch: the rows were claimed and changed but never committed.
        crashed = await asyncpg.connect(database_url, server_settings={"search_path": "pii_redactor"})
        tx = crashed.transaction()
        await tx.start()
        claimed = await vault.claim_due(crashed, h.clock(), 7)
        await vault.redact_rows(
            crashed, [(r["connection_id"], r["amazon_order_id"]) for r in claimed], now=h.clock(), reason="x"
        )
        crashed.terminate()
        held = await h.fetch("SELECT count(*) AS n FROM vault WHERE sealed IS NOT NULL")
        assert held[0]["n"] == 23

    # The process restarts (a new service on the same database) and two replicas run the job at once.
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, namespace=namespace, redaction_batch_size=5
    ) as h2:
        h2.at(DONE + days(30))
        assert h2.service
        other = RedactionJob(h2.service.pool, now=h2.clock, batch_size=3)
        await asyncio.gather(h2.service.job.tick(), other.tick())
        rows = await h2.fetch("SELECT amazon_order_id, sealed, redacted_at FROM vault")
        assert len(rows) == 30 and all(r["sealed"] is None and r["redacted_at"] for r in rows)
        outbox = await h2.fetch("SELECT key FROM outbox WHERE topic = 'order.redacted'")
        assert sorted(bytes(r["key"]).decode() for r in outbox) == sorted(ids)
        events = await h2.redacted_events(expect=30)
        assert sorted(e.data.amazon_order_id for e in events) == sorted(ids)
        assert len({e.id for e in events}) == 30
