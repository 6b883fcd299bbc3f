# ruff: noqa: E402 - the import path is fixed (below) before the imports that depend on it
"""shipment-relay against the sandbox at Amazon's real limits (speed-up 1), real Kafka and real PostgreSQL.

50 sellers, each with `--per-seller` orders, each order one shipment.created of one package. Measured:
- confirmations per second across the sellers, as a fraction of the sum of their confirmShipment limits
  (2 rps, burst 10 each: 100 rps sustained for 50 sellers);
- shipment.created -> accepted, p50/p99 (the package's decided_at minus the event's send time);
- beside it, in the same run, a raw confirmShipment round trip (httpx straight to the sandbox, no service).

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
import statistics
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
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
from shipment_relay.confirmer import Tuning
from shipment_relay.settings import Settings
from spapi_sandbox import SandboxConfig, running

ROOT = Path(__file__).resolve().parents[1]
KAFKA = "127.0.0.1:19092"
MARKETPLACE = "ATVPDKIKX0DER"


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


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sellers", type=int, default=50)
    parser.add_argument("--per-seller", type=int, default=20)
    args = parser.parse_args()
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    names = ("connection.updated", "order.received", "shipment.created", "shipment.confirmed", "dlq.shipment-relay")
    await ensure_topics(KAFKA, [t for t in contracts.kafka_topics() if t.name in names], namespace=namespace)
    with running(SandboxConfig(speedup=1.0)) as sandbox_url:
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
    print(
        "  note: every package costs a getOrder first (validation, 0.5 rps burst 30 per seller) and one more on "
        "read-back, so getOrder, not confirmShipment, bounds the sustained rate"
    )


if __name__ == "__main__":
    asyncio.run(main())
