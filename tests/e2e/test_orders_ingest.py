"""`python -m orders_ingest serve` as a process, with connector-auth's token API and the sandbox: SIGKILL it in the
middle of a poll, start it again, and every order is on order.received once."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from contracts import decode
from testkit import eventually, unique_name
from testkit.sandbox import Sandbox

from .private_infra import free_port
from .test_connect_seller import Process, connector_auth, token_of  # noqa: F401 - connector_auth is a fixture

ORDERS = 250  # three pages of searchOrders


async def read_all(bootstrap: str, topic: str) -> list[Any]:
    """Every record of a shared topic, from the beginning up to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # the public topics() leaves partitions_for_topic empty
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        assert partitions, f"topic {topic} does not exist: run `make kafka`"
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records: list[Any] = []
        while any([await consumer.position(tp) < end[tp] for tp in partitions]):
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def create_orders(sandbox: Sandbox, count: int) -> list[str]:
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=30) as client:
        gate = asyncio.Semaphore(20)

        async def one(n: int) -> str:
            async with gate:
                body = {"seller_id": sandbox.seller_id, "items": [{"sku": f"E2E-{n % 17}", "quantity": 1 + n % 3}],
                        "is_prime": n % 3 == 0}  # fmt: skip
                answer = await client.post("/_sandbox/orders", json=body)
                answer.raise_for_status()
                return str(answer.json()["AmazonOrderId"])

        return list(await asyncio.gather(*(one(n) for n in range(count))))


async def connect_seller(auth: Process, sandbox: Sandbox) -> str:
    async with httpx.AsyncClient(base_url=auth.url, timeout=30) as api:
        created = await api.post(
            "/admin/connections",
            headers=auth.headers("admin"),
            json={"name": "orders e2e", "region": "NA", "marketplace_ids": [sandbox.marketplace_id]},
        )
        assert created.status_code == 201, created.text
        consent = urlsplit(created.json()["consent_url"])
        auto = urlunsplit(consent._replace(query=consent.query + "&" + urlencode({"auto_approve": "true"})))
        async with httpx.AsyncClient(follow_redirects=True, timeout=30) as browser:
            assert (await browser.get(auto)).status_code == 200
        return str(created.json()["connection"]["id"])


def start(env: dict[str, str], log: Path) -> asyncio.Future[asyncio.subprocess.Process]:
    return asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "orders_ingest",
            "serve",
            env=env,
            stdout=log.open("ab"),
            stderr=asyncio.subprocess.STDOUT,
        )
    )


async def ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            return (await client.get(f"{url}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
async def test_sigkill_in_the_middle_of_a_poll_loses_and_duplicates_nothing(
    connector_auth: Process,  # noqa: F811
    database_url: str,
    kafka_bootstrap: str,
    sandbox: Sandbox,
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "ADMIN_PORT": str(port),
        "ADMIN_TOKENS": f"e2e-viewer:viewer:{secrets.token_urlsafe(24)}",
        "CONNECTOR_AUTH_URL": connector_auth.url,
        "SERVICE_TOKEN": token_of(connector_auth.env["SERVICE_TOKENS"], "orders-ingest"),
        "BUYER_REF_KEY": secrets.token_urlsafe(32),
        "SPAPI_ENDPOINT_URL": sandbox.url,
        "SANDBOX_SPEEDUP": "100",
        # A private consumer group: a `make up` copy of the service must not share connection.updated with it.
        "CONSUMER_GROUP": unique_name("orders-ingest-e2e"),
    }
    order_ids = await create_orders(sandbox, ORDERS)
    sandbox.fault(operation="searchOrders", latency_ms=600)  # each page takes a while: room to kill mid-run
    log = tmp_path / "orders-ingest.log"
    first = await start(env, log)
    db = await asyncpg.connect(database_url, server_settings={"search_path": "orders_ingest"})
    try:
        await eventually(lambda: ready(url), timeout=60, interval=0.3)
        connection_id = await connect_seller(connector_auth, sandbox)

        async def mid_run() -> bool:
            row = await db.fetchrow(
                "SELECT coalesce((counts->>'published')::int, 0) AS records_published FROM sync_history_runs"
                " WHERE connection_id = $1 AND status = 'running'",
                connection_id,
            )
            return row is not None and 0 < row["records_published"] < ORDERS

        await eventually(mid_run, timeout=60, interval=0.02)
        first.kill()  # SIGKILL: no draining, no commit of anything in flight
        await first.wait()
        sandbox.clear_faults()

        second = await start(env, log)
        try:
            await eventually(lambda: ready(url), timeout=60, interval=0.3)

            async def all_published() -> list[Any] | None:
                records = await read_all(kafka_bootstrap, "order.received")
                mine = [r for r in records if dict(r.headers).get("ce_connectionid") == connection_id.encode()]
                ids = {dict(r.headers)["ce_id"] for r in mine}
                return mine if len(ids) >= ORDERS else None

            records = await eventually(all_published, timeout=60, interval=0.5)
            runs = await db.fetch(
                "SELECT *, coalesce((counts->>'published')::int, 0) AS records_published FROM sync_history_runs"
                " WHERE connection_id = $1 ORDER BY id",
                connection_id,
            )
            published = await db.fetchval(
                "SELECT count(*) FROM published_events WHERE amazon_order_id = ANY($1::text[])", order_ids
            )
            assert await ready(url)
        finally:
            second.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(second.wait(), timeout=40) == 0, log.read_text()[-3000:]
    finally:
        await db.close()
        if first.returncode is None:
            first.kill()

    events = [decode("order.received", r.value, list(r.headers)) for r in records]
    ids_by_order: dict[str, set[str]] = {}
    for event in events:
        ids_by_order.setdefault(event.data.amazon_order_id, set()).add(event.id)
    assert sorted(ids_by_order) == sorted(order_ids)  # nothing lost
    assert all(len(ids) == 1 for ids in ids_by_order.values())  # no order published twice as different events
    assert published == ORDERS  # the bookkeeping's dedupe key: one (seller, order, revision) each
    # The outbox is at-least-once towards Kafka: a kill between the broker's ack and "sent" repeats records. A
    # repeat is the very same record (same id, same bytes), which consumers drop by id.
    print(f"records {len(records)} for {ORDERS} orders ({len(records) - ORDERS} same-id redeliveries)")
    first_copy: dict[bytes, bytes] = {}
    for record in records:
        assert first_copy.setdefault(dict(record.headers)["ce_id"], record.value) == record.value
    interrupted = [r for r in runs if r["error"] and r["error"].startswith("interrupted")]
    assert len(interrupted) == 1 and interrupted[0]["records_published"] > 0
    later = [r for r in runs if r["id"] > interrupted[0]["id"] and r["status"] == "succeeded"]
    assert later and later[0]["records_published"] + interrupted[0]["records_published"] == ORDERS
