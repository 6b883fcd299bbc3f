# ruff: noqa: E402 - the import path is fixed (below) before the imports that depend on it
"""orders-ingest throughput and latency against the sandbox, real Kafka and real PostgreSQL (`make infra` first).

1. Orders/s from sandbox searchOrders pages to committed Kafka events (poll, map, dedupe, outbox, relay),
   against two baselines measured in this process: reading the same pages from the sandbox alone, and raw
   aiokafka produce (acks=all, idempotent) of the same number of same-sized records.
2. Queue-to-event latency p50/p99: from putting an order's ORDER_CHANGE (the sandbox's document) on the SQS
   queue the service long-polls (the local ElasticMQ, `make sqs`) to its order.received committed on Kafka,
   against a raw SQS send-to-receive round trip (a long-polling receiver) and a raw Kafka produce-to-consume
   round trip, measured in the same run.

`uv run python bench/orders_ingest.py [--orders 1000] [--notified 150]`; prints numbers, asserts nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the service's package: keep its folder off the import path so `orders_ingest` is the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import contracts
import httpx
import servicekit
import spapi
import uvicorn
from aiobotocore.session import get_session
from aiokafka import AIOKafkaConsumer
from messaging import KafkaSettings, ensure_topics, kafka_producer, namespaced
from orders_ingest import bootstrap
from orders_ingest.settings import Settings
from orders_ingest.sync import Tuning
from spapi_sandbox import SandboxConfig, running

ROOT = Path(__file__).resolve().parents[1]
KAFKA = "127.0.0.1:19092"
SPEEDUP = 100.0
SELLER = "A1SANDBOXSELLER"


def sqs_endpoint() -> str:
    script = str(ROOT / "infra/elasticmq/elasticmq.sh")
    subprocess.run([script, "start"], capture_output=True, check=True)
    # ElasticMQ accepts any credentials; the service finds these through the standard AWS chain.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    return subprocess.run([script, "url"], capture_output=True, text=True, check=True).stdout.strip()


@contextlib.asynccontextmanager
async def sqs_queue(endpoint: str) -> AsyncIterator[tuple[object, str]]:
    """(client, queue URL) of a fresh queue, deleted afterwards."""
    async with get_session().create_client("sqs", region_name="us-east-1", endpoint_url=endpoint) as client:
        url = (await client.create_queue(QueueName=f"bench-{uuid.uuid4().hex[:10]}"))["QueueUrl"]
        try:
            yield client, url
        finally:
            await client.delete_queue(QueueUrl=url)


async def raw_sqs_round_trips(endpoint: str, count: int) -> list[float]:
    """Send one message, a receiver long-polls it (as the service does) and deletes it: send -> received."""
    latencies = []
    async with sqs_queue(endpoint) as (client, url):
        received: asyncio.Queue[tuple[str, float]] = asyncio.Queue()

        async def receive() -> None:
            while True:
                answer = await client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=20)
                now = time.perf_counter()
                for message in answer.get("Messages", []):
                    await received.put((message["Body"], now))
                    await client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

        receiver = asyncio.create_task(receive())
        try:
            for n in range(count + 1):  # the first warms up the connection
                sent = time.perf_counter()
                await client.send_message(QueueUrl=url, MessageBody=f"m{n}" + "x" * 2000)
                body, at = await asyncio.wait_for(received.get(), 30)
                assert body.startswith(f"m{n}")
                if n:
                    latencies.append(at - sent)
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
    return latencies


def postgres_url() -> str:
    return subprocess.run(
        [str(ROOT / "infra/postgres/postgres.sh"), "url"], capture_output=True, text=True, check=True
    ).stdout.strip()


@contextlib.asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    server = postgres_url()
    name = f"bench_orders_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    try:
        await servicekit.migrate_database(url, bootstrap.SCHEMA, bootstrap.MIGRATIONS)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def create_orders(client: httpx.AsyncClient, count: int) -> list[str]:
    gate = asyncio.Semaphore(32)

    async def one(n: int) -> str:
        async with gate:
            items = [{"sku": f"BENCH-{n % 50}", "quantity": 1 + n % 3}] + (
                [{"sku": f"BENCH-X{n % 7}", "quantity": 1}] if n % 4 == 0 else []
            )
            answer = await client.post(
                "/_sandbox/orders", json={"seller_id": SELLER, "items": items, "is_prime": n % 3 == 0}
            )
            answer.raise_for_status()
            return str(answer.json()["AmazonOrderId"])

    return list(await asyncio.gather(*(one(n) for n in range(count))))


def connection_event(connection_id: str) -> contracts.KafkaRecord:
    example = json.loads(json.dumps(contracts.EXAMPLES["connection.updated"][0]))
    example.update(connection_id=connection_id, marketplace_ids=["ATVPDKIKX0DER"], selling_partner_id=SELLER)
    example["settings"]["order_poll_interval_minutes"] = 240  # only the first poll and notification runs
    data = contracts.ConnectionUpdatedV1.model_validate(example)
    return contracts.encode(contracts.new_event("connection.updated", data, source="bench", revision="1"))


class Arrivals:
    """Consumes a topic and notes when each key first arrived."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.first_seen: dict[str, float] = {}
        self.records = 0
        self.bytes = 0
        self._task: asyncio.Task[None] | None = None
        self._consumer = AIOKafkaConsumer(topic, bootstrap_servers=KAFKA, auto_offset_reset="earliest")

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=50)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    self.records += 1
                    self.bytes += len(record.value or b"")
                    self.first_seen.setdefault((record.key or b"").decode(), now)

    async def wait_for(self, keys: set[str], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not keys <= self.first_seen.keys():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(keys - self.first_seen.keys())} events missing")
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()


async def raw_pages(sandbox_url: str, token: str, since: datetime) -> tuple[int, float]:
    async with spapi.SpApiClient(
        endpoint=sandbox_url, selling_partner_id=SELLER, token_source=spapi.StaticTokenSource(token),
        limiter=spapi.RateLimiter(rate_scale=SPEEDUP),
    ) as client:  # fmt: skip
        started = time.perf_counter()
        orders = await client.orders.search_orders(
            spapi.SearchOrders(
                last_updated_after=since,
                max_results_per_page=100,
                included_data=[spapi.IncludedData.BUYER, spapi.IncludedData.RECIPIENT, spapi.IncludedData.FULFILLMENT],
            )
        )
        return len(orders), time.perf_counter() - started


async def raw_produce(values: list[bytes]) -> float:
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    await ensure_topics(KAFKA, [contracts.KafkaTopic(name=topic, partitions=3, configs={})])
    async with kafka_producer(KafkaSettings(bootstrap_servers=KAFKA, client_id="bench-raw")) as producer:
        started = time.perf_counter()
        futures = [await producer.send(topic, value=v, key=str(i).encode()) for i, v in enumerate(values)]
        await asyncio.gather(*futures)
        return time.perf_counter() - started


async def raw_round_trips(count: int) -> list[float]:
    topic = f"bench.rtt.{uuid.uuid4().hex[:8]}"
    await ensure_topics(KAFKA, [contracts.KafkaTopic(name=topic, partitions=1, configs={})])
    arrivals = Arrivals(topic)
    await arrivals.start()
    latencies = []
    try:
        async with kafka_producer(KafkaSettings(bootstrap_servers=KAFKA, client_id="bench-rtt")) as producer:
            await producer.send_and_wait(topic, b"warm-up", key=b"warm")
            await arrivals.wait_for({"warm"})
            for n in range(count):
                key = f"k{n}"
                sent = time.perf_counter()
                await producer.send_and_wait(topic, b"x" * 2000, key=key.encode())
                await arrivals.wait_for({key})
                latencies.append(arrivals.first_seen[key] - sent)
    finally:
        await arrivals.stop()
    return latencies


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main(orders: int, notified: int) -> None:
    wall = time.perf_counter()
    namespace = f"bench.{uuid.uuid4().hex[:8]}"
    names = ("connection.updated", "order.received", "order.cancelled", contracts.dead_letter_topic(bootstrap.SERVICE))
    await ensure_topics(KAFKA, [t for t in contracts.kafka_topics() if t.name in names], namespace=namespace)
    endpoint = sqs_endpoint()
    with running(SandboxConfig(speedup=SPEEDUP)) as sandbox_url:
        async with (
            httpx.AsyncClient(base_url=sandbox_url, timeout=30) as sandbox,
            scratch_database() as db,
            sqs_queue(endpoint) as (sqs, queue_url),
        ):
            await sandbox.post("/_sandbox/reset")
            token = (await sandbox.post("/auth/o2/token", data={
                "grant_type": "refresh_token", "refresh_token": "Atzr|sandbox-default-seller-refresh-token",
                "client_id": "bench", "client_secret": "bench"})).json()["access_token"]  # fmt: skip
            since = datetime.now(UTC)
            order_ids = await create_orders(sandbox, orders)
            await asyncio.sleep(1.5)  # searchOrders shows orders 2 min (here 1.2 s) after their last change
            read, read_seconds = await raw_pages(sandbox_url, token, since)

            port = 18999
            settings = Settings(
                database_url=db, kafka_bootstrap_servers=KAFKA, connector_auth_url="http://127.0.0.1:9",
                service_token="unused-service-token-0000", buyer_ref_key=secrets.token_urlsafe(32),
                spapi_endpoint_url=sandbox_url, sandbox_speedup=SPEEDUP, kafka_namespace=namespace,
                notifications_queue_url=queue_url, sqs_endpoint_url=endpoint,
            )  # type: ignore[call-arg]  # fmt: skip
            arrivals = Arrivals(namespaced(namespace, "order.received"))
            await arrivals.start()
            async with bootstrap.build(
                settings, token_sources=lambda _: spapi.StaticTokenSource(token),
                tuning=Tuning(speedup=SPEEDUP),
            ) as service:  # fmt: skip
                server = uvicorn.Server(uvicorn.Config(service.app, port=port, log_config=None, lifespan="off"))
                tasks = [asyncio.create_task(w.run()) for w in service.workers]
                http = asyncio.create_task(server.serve())
                try:
                    while not await service.consumer.ready() or not server.started:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                    record = connection_event("conn-bench")
                    async with kafka_producer(KafkaSettings(bootstrap_servers=KAFKA, client_id="bench")) as producer:
                        started = time.perf_counter()
                        await producer.send_and_wait(
                            namespaced(namespace, "connection.updated"),
                            record.value,
                            key=record.key,
                            headers=record.headers,
                        )
                    await arrivals.wait_for(set(order_ids))
                    ingest_seconds = time.perf_counter() - started
                    event_bytes = arrivals.bytes // max(1, arrivals.records)

                    latencies = []
                    for n in range(notified):
                        answer = await sandbox.post(
                            "/_sandbox/orders", json={"seller_id": SELLER, "items": [{"sku": f"N-{n}", "quantity": 1}]}
                        )
                        order_id = answer.json()["AmazonOrderId"]
                        sent_by_sandbox = await sandbox.get("/_sandbox/notifications", params={"order_id": order_id})
                        (document,) = sent_by_sandbox.json()["sent"]
                        sent = time.perf_counter()
                        await sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(document))  # type: ignore[attr-defined]
                        await arrivals.wait_for({order_id}, timeout=30)
                        latencies.append(arrivals.first_seen[order_id] - sent)
                finally:
                    for worker in service.workers:
                        await worker.stop()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    server.should_exit = True
                    await http
            await arrivals.stop()

    values = [b"x" * event_bytes for _ in range(orders)]
    raw_seconds = await raw_produce(values)
    rtts = await raw_round_trips(min(notified, 100))
    sqs_rtts = await raw_sqs_round_trips(endpoint, min(notified, 100))

    print(f"orders-ingest benchmark ({orders} orders, {notified} notifications, sandbox speed-up {SPEEDUP:g})")
    print(f"  poll -> committed event   {orders / ingest_seconds:8.0f} orders/s  ({ingest_seconds:.2f} s)")
    print(f"  baseline: pages only      {read / read_seconds:8.0f} orders/s  (searchOrders, no processing)")
    print(f"  baseline: raw produce     {orders / raw_seconds:8.0f} events/s  ({event_bytes} B, acks=all, idempotent)")
    print(
        f"  SQS ORDER_CHANGE -> event p50 {pct(latencies, 50) * 1000:6.1f} ms   p99 {pct(latencies, 99) * 1000:6.1f} ms"
    )
    print(
        f"  baseline: SQS send->recv  p50 {pct(sqs_rtts, 50) * 1000:6.1f} ms   p99 {pct(sqs_rtts, 99) * 1000:6.1f} ms"
    )
    print(f"  baseline: produce->consume p50 {pct(rtts, 50) * 1000:6.1f} ms   p99 {pct(rtts, 99) * 1000:6.1f} ms")
    print(
        f"  mean notification latency {statistics.mean(latencies) * 1000:.1f} ms;"
        f" wall time {time.perf_counter() - wall:.0f} s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # searchOrders burst is 20 pages per seller: 1000 orders = 10 pages for the baseline + 10 for the service.
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--notified", type=int, default=150)
    args = parser.parse_args()
    asyncio.run(main(args.orders, args.notified))
