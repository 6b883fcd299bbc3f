# ruff: noqa: E402 - the import path is fixed (below) before the imports that depend on it
"""shipment-relay against the sandbox at Amazon's real limits (speed-up 1), real Kafka and real PostgreSQL.

50 sellers, each with `--per-seller` orders, each order its order.received (as orders-ingest publishes it) and one
shipment.created of one package. Measured:
- confirmations per second across the sellers, as a fraction of the sum of their confirmShipment limits
  (2 rps, burst 10 each: 100 rps sustained for 50 sellers);
- shipment.created -> accepted, p50/p99 (the package's decided_at minus the event's send time);
- beside it, in the same run, a raw confirmShipment round trip (httpx straight to the sandbox, no service);
- getOrder calls per order: none before the send (validated on order.received), one read-back per order.

`uv run python bench/shipment_relay.py [--sellers 50] [--per-seller 20]`; prints numbers, asserts nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the service's package: keep its folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import contracts
import httpx
import servicekit
import spapi
from aiokafka import AIOKafkaProducer
from messaging import KafkaSettings, ensure_topics, kafka_producer, namespaced
from shipment_relay import bootstrap
from shipment_relay.confirmer import CALLS, Tuning
from shipment_relay.settings import Settings
from spapi_sandbox import SandboxConfig, running

ROOT = Path(__file__).resolve().parents[1]
KAFKA = "127.0.0.1:19092"
MARKETPLACE = "ATVPDKIKX0DER"


@contextlib.contextmanager
def sandbox(*, in_process: bool) -> Iterator[str]:
    """Amazon in its own process by default, as the real one is: a thread here would share the service's GIL."""
    if in_process:
        with running(SandboxConfig(speedup=1.0)) as url:
            yield url
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "spapi_sandbox", "--port", str(port), "--speedup", "1"])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/_sandbox/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the sandbox did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def postgres_url() -> str:
    return subprocess.run(
        [str(ROOT / "infra/postgres/postgres.sh"), "url"], capture_output=True, text=True, check=True
    ).stdout.strip()


@contextlib.asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    server = postgres_url()
    name = f"bench_ship_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    try:
        await servicekit.migrate_database(url, bootstrap.SCHEMA, bootstrap.MIGRATIONS)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def connection_event(connection_id: str, seller_id: str) -> Any:
    example = json.loads(json.dumps(contracts.EXAMPLES["connection.updated"][0]))
    example.update(connection_id=connection_id, revision=1, status="active", region="NA", marketplace_ids=[MARKETPLACE],
                   selling_partner_id=seller_id, warnings=[], updated_at=datetime.now(UTC).isoformat())  # fmt: skip
    data = contracts.ConnectionUpdatedV1.model_validate(example)
    return contracts.new_event("connection.updated", data, source="bench", revision="1")


def order_received_event(connection_id: str, seller: str, order: dict[str, Any]) -> Any:
    example = json.loads(json.dumps(contracts.EXAMPLES["order.received"][0]))
    line = example["lines"][0]
    example.update(connection_id=connection_id, selling_partner_id=seller, amazon_order_id=order["AmazonOrderId"],
                   last_update_date=order["LastUpdateDate"],
                   lines=[{**line, "order_item_id": i["OrderItemId"], "seller_sku": i["SellerSKU"],
                           "product_code": i["SellerSKU"], "asin": i["ASIN"], "quantity_ordered": i["QuantityOrdered"],
                           "quantity_shipped": i["QuantityShipped"]} for i in order["items"]])  # fmt: skip
    data = contracts.OrderReceivedV1.model_validate(example)
    return contracts.new_event("order.received", data, source="bench", revision=order["LastUpdateDate"])


def shipment_event(connection_id: str, order: dict[str, Any], shipment_id: str) -> Any:
    item = order["items"][0]
    data = contracts.ShipmentCreatedV1.model_validate({
        "shipment_id": shipment_id, "connection_id": connection_id, "marketplace_id": MARKETPLACE,
        "amazon_order_id": order["AmazonOrderId"],
        "packages": [{"carrier": "UPS", "tracking_number": f"1Z{shipment_id[-10:]}",
                      "ship_date": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
                      "items": [{"order_item_id": item["OrderItemId"], "quantity": item["QuantityOrdered"]}]}],
    })  # fmt: skip
    return contracts.new_event("shipment.created", data, source="bench", revision=shipment_id)


async def send(producer: AIOKafkaProducer, namespace: str, events: list[Any]) -> None:
    futures = []
    for event in events:
        record = contracts.encode(event)
        futures.append(
            await producer.send(namespaced(namespace, event.type), record.value, key=record.key, headers=record.headers)
        )
    await asyncio.gather(*futures)


async def calls(sandbox_url: str, operation: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=60) as http:
        answer = await http.get("/_sandbox/requests", params={"operation": operation, "limit": 100_000})
        answer.raise_for_status()
        return list(answer.json())


async def getorder_calls(sandbox_url: str) -> int:
    return len(await calls(sandbox_url, "getOrder"))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def token(http: httpx.AsyncClient, refresh: str) -> str:
    answer = await http.post("/auth/o2/token", data={"grant_type": "refresh_token", "refresh_token": refresh,
                                                     "client_id": "x", "client_secret": "y"})  # fmt: skip
    answer.raise_for_status()
    return str(answer.json()["access_token"])


async def raw_round_trips(http: httpx.AsyncClient, access: str, orders: list[dict[str, Any]]) -> list[float]:
    """confirmShipment straight to the sandbox, one at a time (within one seller's burst of 10)."""
    took = []
    for n, order in enumerate(orders):
        item = order["items"][0]
        body = {"marketplaceId": MARKETPLACE, "packageDetail": {
            "packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": f"1ZRAW{n:05d}",
            "shipDate": (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
            "orderItems": [{"orderItemId": item["OrderItemId"], "quantity": item["QuantityOrdered"]}]}}  # fmt: skip
        started = time.perf_counter()
        answer = await http.post(f"/orders/v0/orders/{order['AmazonOrderId']}/shipmentConfirmation", json=body,
                                 headers={"x-amz-access-token": access})  # fmt: skip
        took.append(time.perf_counter() - started)
        answer.raise_for_status()
    return took


async def raw_capacity(http: httpx.AsyncClient, sellers: int) -> float:
    """confirmShipment per second the sandbox itself answers: `sellers` sellers' bursts (10 each) at once."""
    work: list[tuple[str, dict[str, Any]]] = []
    for _ in range(sellers):
        seller = (await http.post("/_sandbox/sellers", json={"marketplace_ids": [MARKETPLACE]})).json()
        access = await token(http, seller["refresh_token"])
        for n in range(10):
            body = {"seller_id": seller["selling_partner_id"], "items": [{"sku": f"C-{n}", "quantity": 1}]}
            work.append((access, (await http.post("/_sandbox/orders", json=body)).json()))
    started = time.perf_counter()
    await asyncio.gather(*(raw_round_trips(http, access, [order]) for access, order in work))
    return len(work) / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sellers", type=int, default=50)
    parser.add_argument("--per-seller", type=int, default=20)
    parser.add_argument("--raw-sellers", type=int, default=20, help="sellers of the raw capacity baseline")
    parser.add_argument(
        "--in-process", action="store_true", help="the sandbox in a thread of this process (shares its GIL)"
    )
    args = parser.parse_args()
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    names = (
        "connection.updated",
        "order.received",
        "order.completed",
        "shipment.created",
        "shipment.confirmed",
        "dlq.shipment-relay",
    )
    await ensure_topics(KAFKA, [t for t in contracts.kafka_topics() if t.name in names], namespace=namespace)
    with sandbox(in_process=args.in_process) as sandbox_url:
        async with httpx.AsyncClient(base_url=sandbox_url, timeout=60) as http:
            tokens: dict[str, str] = {}
            orders: dict[str, list[dict[str, Any]]] = {}
            for s in range(args.sellers + 1):
                seller = (await http.post("/_sandbox/sellers", json={"marketplace_ids": [MARKETPLACE]})).json()
                conn = f"bench-ship-{s:02d}"
                tokens[conn] = await token(http, seller["refresh_token"])
                orders[conn] = []
                for n in range(args.per_seller if s < args.sellers else 10):
                    body = {"seller_id": seller["selling_partner_id"], "items": [{"sku": f"B-{n}", "quantity": 1}]}
                    answer = await http.post("/_sandbox/orders", json=body)
                    answer.raise_for_status()
                    orders[conn].append(answer.json())
                orders[conn][0]["seller"] = seller["selling_partner_id"]
            raw_conn = f"bench-ship-{args.sellers:02d}"
            raw = await raw_round_trips(http, tokens[raw_conn], orders.pop(raw_conn))
            capacity = await raw_capacity(http, args.raw_sellers)

        settings = Settings(
            database_url="postgresql://unused", kafka_bootstrap_servers=KAFKA, kafka_namespace=namespace,
            admin_tokens="b:admin:" + uuid.uuid4().hex, connector_auth_url="http://127.0.0.1:9",
            service_token="unused-service-token-0000", spapi_endpoint_url=sandbox_url,
            consumer_group=f"bench-{uuid.uuid4().hex[:6]}",
        )  # type: ignore[call-arg]  # fmt: skip
        tuning = Tuning(apply_delay=timedelta(seconds=35), concurrency=256, idle_poll=timedelta(seconds=0.2))
        async with scratch_database() as db, kafka_producer(KafkaSettings(bootstrap_servers=KAFKA)) as producer:
            settings = settings.model_copy(update={"database_url": db})
            await send(producer, namespace, [connection_event(c, o[0]["seller"]) for c, o in orders.items()])
            await send(producer, namespace, [order_received_event(c, os_[0]["seller"], order)
                                             for c, os_ in orders.items() for order in os_])  # fmt: skip
            total = sum(len(o) for o in orders.values())
            async with bootstrap.build(
                settings, token_sources=lambda c: spapi.StaticTokenSource(tokens[c]), tuning=tuning
            ) as svc:
                tasks = [asyncio.create_task(w.run()) for w in svc.workers]
                try:
                    await asyncio.sleep(2)  # the connections are projected first
                    events = [shipment_event(c, order, f"BS-{c[-2:]}-{n:05d}")
                              for c, os_ in orders.items() for n, order in enumerate(os_)]  # fmt: skip
                    sent_at = datetime.now(UTC)
                    await send(producer, namespace, events)
                    conn = await asyncpg.connect(db, server_settings={"search_path": "shipment_relay"})
                    try:
                        deadline = time.monotonic() + 600
                        while time.monotonic() < deadline:
                            decided = await conn.fetchval(
                                "SELECT count(*) FROM packages WHERE state IN ('accepted', 'applied', 'rejected')"
                            )
                            if decided >= total:
                                break
                            await asyncio.sleep(0.2)
                        rows = await conn.fetch(
                            "SELECT state, decided_at, s.created_at FROM packages JOIN shipments s USING (shipment_id)"
                        )
                        stored = max(r["created_at"] for r in rows)
                        reads_before = await getorder_calls(sandbox_url)
                        statuses: dict[int, int] = {}
                        for r in await calls(sandbox_url, "confirmShipment"):
                            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
                        # Then the read-backs, after the apply delay (not part of the rate above).
                        deadline = time.monotonic() + 300
                        while time.monotonic() < deadline:
                            if await conn.fetchval("SELECT count(*) FROM packages WHERE state = 'applied'") >= total:
                                break
                            await asyncio.sleep(0.5)
                        applied = await conn.fetchval("SELECT count(*) FROM packages WHERE state = 'applied'")
                        reads_after = await getorder_calls(sandbox_url)
                    finally:
                        await conn.close()
                finally:
                    for worker in svc.workers:
                        await worker.stop()
                    await asyncio.gather(*tasks, return_exceptions=True)
    accepted = [r for r in rows if r["state"] in ("accepted", "applied")]
    latencies = [(r["decided_at"] - sent_at).total_seconds() for r in accepted]
    span = max(latencies) if latencies else float("nan")
    rate = len(accepted) / span
    limit = args.sellers * 2.0
    print(f"shipment-relay bench: {args.sellers} sellers x {args.per_seller} one-package shipments = {total}")
    print(f"  accepted {len(accepted)}, other {len(rows) - len(accepted)}, in {span:.1f} s after the events were sent")
    print(f"  confirmations/s: {rate:.1f} = {rate / limit:.1%} of the sellers' confirmShipment limits ({limit:.0f}/s "
          f"sustained, burst 10 each)")  # fmt: skip
    if latencies:
        p50, p99 = statistics.median(latencies), pct(latencies, 0.99)
        print(f"  shipment.created -> accepted: p50 {p50:.2f} s, p99 {p99:.2f} s")
    raw50, raw99 = statistics.median(raw) * 1000, pct(raw, 0.99) * 1000
    print(f"  baseline, raw confirmShipment round trip (same sandbox, same run): "
          f"p50 {raw50:.1f} ms, p99 {raw99:.1f} ms ({len(raw)} calls)")  # fmt: skip
    first_stored = min(r["created_at"] for r in rows)
    last_accepted = max(r["decided_at"] for r in accepted) if accepted else first_stored
    ideal = max(0.0, (args.per_seller - 10) / 2.0)
    confirming = (last_accepted - first_stored).total_seconds()
    print(f"  baseline, the sandbox's own capacity (same run, {args.raw_sellers} sellers' bursts at once, no service): "
          f"{capacity:.0f} confirmShipment/s; the relay reached {rate / capacity:.0%} of it")  # fmt: skip
    print(
        f"  the sellers' limits alone would take {ideal:.1f} s (burst 10, then 2/s each); "
        f"from the first shipment stored to the last accepted: {confirming:.1f} s"
    )
    print(
        f"  machine load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
        "(shared; CPU starvation shows up in the raw round trip too)"
    )
    results = {r: CALLS.labels(r)._value.get() for r in ("accepted", "retry", "unknown", "refused")}
    print(f"  the relay's confirmShipment calls by result (after the client's own retries): {results}")
    print(f"  confirmShipment answers by status (the raw baseline's 10 included): {dict(sorted(statuses.items()))}")
    print(f"  the last shipment.created was stored (consumed) {(stored - sent_at).total_seconds():.1f} s after sending")
    print(f"  getOrder calls: {reads_before} until every package was decided (validation), "
          f"{reads_after - reads_before} for the read-back of {applied} applied packages "
          f"({reads_after / max(total, 1):.2f} per one-package order in all)")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
