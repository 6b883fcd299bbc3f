"""shipment-relay in this process, wired as bootstrap.build wires it, in a private Kafka namespace and a fresh database.

Amazon is the session's sandbox (speed-up 100, so its 30 s apply delay is 0.3 s); the access token comes from the
sandbox's LWA endpoint through the composition root's token seam instead of connector-auth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import contracts
import httpx
import spapi
import uvicorn
from aiokafka import AIOKafkaProducer
from messaging import ensure_topics, namespaced
from shipment_relay import bootstrap
from shipment_relay.confirmer import Tuning
from shipment_relay.settings import Settings
from testkit import eventually, read_topic, unique_name
from testkit.sandbox import SPEEDUP, Sandbox

ROLES = ("viewer", "operator", "admin")
# The sandbox's write_apply_seconds (30 s) at its speed-up.
APPLY_DELAY = timedelta(seconds=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_TOPICS = (
    "connection.updated",
    "order.received",
    "shipment.created",
    "shipment.confirmed",
    "order.completed",
    contracts.dead_letter_topic("shipment-relay"),
)


@dataclass(frozen=True)
class Topicset:
    namespace: str

    def wire(self, topic: str) -> str:
        return namespaced(self.namespace, topic)


async def make_topics(kafka_bootstrap: str) -> Topicset:
    names = Topicset(unique_name("ns"))
    wanted = [t for t in contracts.kafka_topics() if t.name in _TOPICS]
    await ensure_topics(kafka_bootstrap, wanted, namespace=names.namespace)
    return names


def connection_event(connection_id: str, seller_id: str, revision: int = 1, **settings: Any) -> Any:
    example = json.loads(json.dumps(contracts.EXAMPLES["connection.updated"][0]))
    example.update(
        connection_id=connection_id,
        revision=revision,
        status="active",
        region="NA",
        marketplace_ids=["ATVPDKIKX0DER"],
        selling_partner_id=seller_id,
        warnings=[],
        updated_at=datetime.now(UTC).isoformat(),
    )
    example["settings"].update(settings)
    data = contracts.ConnectionUpdatedV1.model_validate(example)
    return contracts.new_event("connection.updated", data, source="tests", revision=str(revision))


def order_received_event(connection_id: str, seller_id: str, order: dict[str, Any]) -> Any:
    """order.received as orders-ingest would publish it for a sandbox order (PII included, as on the topic)."""
    example = json.loads(json.dumps(contracts.EXAMPLES["order.received"][0]))
    line = example["lines"][0]
    example.update(
        connection_id=connection_id,
        selling_partner_id=seller_id,
        amazon_order_id=order["AmazonOrderId"],
        last_update_date=order["LastUpdateDate"],
        lines=[
            {
                **line,
                "order_item_id": i["OrderItemId"],
                "seller_sku": i["SellerSKU"],
                "product_code": i["SellerSKU"],
                "asin": i["ASIN"],
                "quantity_ordered": i["QuantityOrdered"],
                "quantity_shipped": i["QuantityShipped"],
            }
            for i in order["items"]
        ],
    )
    data = contracts.OrderReceivedV1.model_validate(example)
    return contracts.new_event("order.received", data, source="tests", revision=order["LastUpdateDate"])


def package(tracking: str, items: list[dict[str, Any]], carrier: str = "UPS", **fields: Any) -> dict[str, Any]:
    return {
        "carrier": carrier,
        "service": "Ground",
        "tracking_number": tracking,
        "ship_date": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "items": items,
        **fields,
    }


def shipment_event(connection_id: str, order_id: str, shipment_id: str, packages: list[dict[str, Any]]) -> Any:
    data = contracts.ShipmentCreatedV1.model_validate(
        {
            "shipment_id": shipment_id,
            "connection_id": connection_id,
            "marketplace_id": "ATVPDKIKX0DER",
            "amazon_order_id": order_id,
            "packages": packages,
        }
    )
    return contracts.new_event("shipment.created", data, source="tests", revision=shipment_id)


def completed_event(connection_id: str, order_id: str, status: str, cancel_reason: str | None = None) -> Any:
    data = contracts.OrderCompletedV1.model_validate(
        {
            "connection_id": connection_id,
            "marketplace_id": "ATVPDKIKX0DER",
            "amazon_order_id": order_id,
            "status": status,
            "cancel_reason": cancel_reason,
            "occurred_at": datetime.now(UTC).isoformat(),
        }
    )
    return contracts.new_event("order.completed", data, source="tests", revision=data.occurred_at.isoformat())


class Harness:
    def __init__(
        self, *, url: str, topics: Topicset, kafka: str, producer: AIOKafkaProducer, tokens: dict[str, str]
    ) -> None:
        self.url = url
        self.topics = topics
        self.kafka = kafka
        self.producer = producer
        self.tokens = tokens
        self.service: bootstrap.Service | None = None

    def api(self, role: str = "operator") -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers={"authorization": f"Bearer {self.tokens[role]}"}, timeout=10
        )

    async def send(self, topic: str, event: Any) -> None:
        record = contracts.encode(event)
        await self.producer.send_and_wait(self.topics.wire(topic), record.value, key=record.key, headers=record.headers)

    async def confirmed(self, expect: int, timeout: float = 30.0) -> list[contracts.ShipmentConfirmedV1]:
        records = await read_topic(self.kafka, self.topics.wire("shipment.confirmed"), expect=expect, timeout=timeout)
        return [contracts.decode("shipment.confirmed", r.value, list(r.headers)).data for r in records]

    async def shipment(self, shipment_id: str) -> dict[str, Any]:
        async with self.api("viewer") as api:
            answer = await api.get(f"/admin/shipments/{shipment_id}")
            assert answer.status_code == 200, f"{shipment_id}: {answer.status_code} {answer.text}"
            return dict(answer.json())

    async def cancellation(
        self, order_id: str, timeout: float = 20.0, until: tuple[str, ...] = ("accepted", "rejected")
    ) -> dict[str, Any]:
        async def probe() -> dict[str, Any]:
            async with self.api("viewer") as api:
                answer = await api.get(f"/admin/orders/{order_id}/cancellation")
            assert answer.status_code == 200, answer.text
            view = dict(answer.json())
            assert view["state"] in until, view
            return view

        result: dict[str, Any] = await eventually(probe, timeout=timeout, interval=0.1)
        return result

    async def until_states(self, shipment_id: str, *states: str, timeout: float = 20.0) -> dict[str, Any]:
        async def probe() -> dict[str, Any]:
            view = await self.shipment(shipment_id)
            found = [p["state"] for p in view["packages"]]
            assert found == list(states), f"{shipment_id}: {found} != {list(states)}"
            return view

        result: dict[str, Any] = await eventually(probe, timeout=timeout, interval=0.1)
        return result


@contextlib.asynccontextmanager
async def running(
    *,
    database_url: str,
    kafka_bootstrap: str,
    sandbox: Sandbox,
    topics: Topicset,
    producer: AIOKafkaProducer,
    tuning: Tuning | None = None,
    **settings_overrides: Any,
) -> AsyncIterator[Harness]:
    tokens = {role: secrets.token_urlsafe(24) for role in ROLES}
    port = free_port()
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_namespace=topics.namespace,
        admin_tokens=",".join(f"t-{r}:{r}:{t}" for r, t in tokens.items()),
        connector_auth_url="http://127.0.0.1:9",  # unused: tokens come through the seam
        service_token="unused-service-token-0000",
        spapi_endpoint_url=sandbox.url,
        sandbox_speedup=SPEEDUP,
        consumer_group=unique_name("shipment-relay"),
        **settings_overrides,
    )  # type: ignore[call-arg]
    base = bootstrap.tuning_of(settings)
    tuning = tuning or replace(base, apply_delay=APPLY_DELAY, idle_poll=timedelta(seconds=5))
    access_token = sandbox.access_token()
    harness = Harness(
        url=f"http://127.0.0.1:{port}", topics=topics, kafka=kafka_bootstrap, producer=producer, tokens=tokens
    )
    async with bootstrap.build(
        settings, token_sources=lambda _connection_id: spapi.StaticTokenSource(access_token), tuning=tuning
    ) as service:
        harness.service = service
        server = uvicorn.Server(
            uvicorn.Config(service.app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off")
        )
        http = asyncio.create_task(server.serve())
        tasks = [asyncio.create_task(w.run(), name=w.name) for w in service.workers]
        try:
            await eventually(lambda: asyncio.sleep(0, result=server.started), timeout=10, interval=0.05)
            await eventually(service.consumer.ready, timeout=20)
            yield harness
        finally:
            for worker in service.workers:
                await worker.stop()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            server.should_exit = True
            await http
            failures = [r for r in results if isinstance(r, BaseException)]
            assert not failures, f"a worker crashed: {failures!r}"
