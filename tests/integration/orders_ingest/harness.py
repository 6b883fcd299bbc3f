"""orders-ingest in this process, wired as bootstrap.build wires it, in a private Kafka namespace and a fresh database.

Amazon is the session's sandbox (speed-up 100); the access token comes from the sandbox's LWA endpoint through
the composition root's token seam instead of connector-auth (the e2e test covers connector-auth).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import contracts
import httpx
import spapi
import uvicorn
from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from messaging import ensure_topics, namespaced
from orders_ingest import bootstrap
from orders_ingest.settings import Settings
from orders_ingest.sync import Tuning
from testkit import SqsQueue, eventually, read_topic, unique_name
from testkit.sandbox import SPEEDUP, Sandbox

ROLES = ("viewer", "operator", "admin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def connection_event(connection_id: str, revision: int = 1, status: str = "active", **settings: Any) -> Any:
    example = json.loads(json.dumps(contracts.EXAMPLES["connection.updated"][0]))
    example.update(
        connection_id=connection_id,
        revision=revision,
        status=status,
        region="NA",
        marketplace_ids=["ATVPDKIKX0DER"],
        selling_partner_id="A1SANDBOXSELLER",
        warnings=[],
        updated_at=datetime.now(UTC).isoformat(),
    )
    example["settings"].update(settings)
    data = contracts.ConnectionUpdatedV1.model_validate(example)
    return contracts.new_event("connection.updated", data, source="tests", revision=str(revision))


_TOPICS = ("connection.updated", "order.received", "order.cancelled", contracts.dead_letter_topic("orders-ingest"))


@dataclass(frozen=True)
class Topicset:
    """A test's private Kafka namespace (KAFKA_NAMESPACE) and the wire names of the topics it uses."""

    namespace: str

    @property
    def connections(self) -> str:
        return namespaced(self.namespace, "connection.updated")

    @property
    def received(self) -> str:
        return namespaced(self.namespace, "order.received")

    @property
    def cancelled(self) -> str:
        return namespaced(self.namespace, "order.cancelled")


async def make_topics(kafka_bootstrap: str) -> Topicset:
    names = Topicset(unique_name("ns"))
    wanted = [t for t in contracts.kafka_topics() if t.name in _TOPICS]
    await ensure_topics(kafka_bootstrap, wanted, namespace=names.namespace)
    return names


class Harness:
    def __init__(self, *, url: str, topics: Topicset, kafka: str, database_url: str, tokens: dict[str, str]) -> None:
        self.url = url
        self.topics = topics
        self.kafka = kafka
        self.database_url = database_url
        self.tokens = tokens
        self.service: bootstrap.Service | None = None

    def headers(self, role: str) -> dict[str, str]:
        return {"authorization": f"Bearer {self.tokens[role]}"}

    def api(self, role: str = "operator") -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=self.headers(role), timeout=10)

    async def connect(self, producer: AIOKafkaProducer, connection_id: str, revision: int = 1, **settings: Any) -> None:
        record = contracts.encode(connection_event(connection_id, revision, **settings))
        await producer.send_and_wait(self.topics.connections, record.value, key=record.key, headers=record.headers)

    async def received(self, expect: int, timeout: float = 30.0) -> list[contracts.CloudEvent]:
        return _decode(
            "order.received", await read_topic(self.kafka, self.topics.received, expect=expect, timeout=timeout)
        )

    async def cancelled(self, expect: int, timeout: float = 30.0) -> list[contracts.CloudEvent]:
        return _decode(
            "order.cancelled", await read_topic(self.kafka, self.topics.cancelled, expect=expect, timeout=timeout)
        )

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url, server_settings={"search_path": "orders_ingest"})
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def runs(self) -> list[dict[str, Any]]:
        async with self.api("viewer") as api:
            answer = await api.get("/admin/sync-runs", params={"limit": 500})
            answer.raise_for_status()
            return list(reversed(answer.json()))

    async def wait_for_run(self, **match: Any) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            done = [r for r in await self.runs() if r["status"] in ("succeeded", "failed")]
            return next((r for r in done if all(r[k] == v for k, v in match.items())), None)

        found: dict[str, Any] = await eventually(probe, timeout=40, interval=0.2)
        return found


def _decode(topic: str, records: list[ConsumerRecord[bytes, bytes]]) -> list[contracts.CloudEvent]:
    return [contracts.decode(topic, r.value, list(r.headers)) for r in records]


@contextlib.asynccontextmanager
async def running(
    *,
    database_url: str,
    kafka_bootstrap: str,
    sandbox: Sandbox,
    topics: Topicset,
    tuning: Tuning | None = None,
    queue: SqsQueue | None = None,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    """`queue`: the SQS queue orders-ingest reads ORDER_CHANGE from; `overrides`: further Settings fields."""
    tokens = {role: secrets.token_urlsafe(24) for role in ROLES}
    port = free_port()
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_namespace=topics.namespace,
        admin_tokens=",".join(f"t-{r}:{r}:{t}" for r, t in tokens.items()),
        connector_auth_url="http://127.0.0.1:9",  # unused: tokens come through the seam
        service_token="unused-service-token-0000",
        buyer_ref_key="test-buyer-ref-key-0123456789",
        spapi_endpoint_url=sandbox.url,
        sandbox_speedup=SPEEDUP,
        notifications_queue_url=queue.url if queue else None,
        sqs_endpoint_url=queue.endpoint_url if queue else None,
        **overrides,
    )  # type: ignore[call-arg]
    access_token = sandbox.access_token()
    harness = Harness(
        url=f"http://127.0.0.1:{port}", topics=topics, kafka=kafka_bootstrap, database_url=database_url, tokens=tokens
    )
    async with bootstrap.build(
        settings,
        token_sources=lambda _connection_id: spapi.StaticTokenSource(access_token),
        tuning=tuning or Tuning(speedup=SPEEDUP),
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


@contextlib.asynccontextmanager
async def sandbox_to_queue(sandbox: Sandbox, queue: SqsQueue) -> AsyncIterator[list[dict[str, Any]]]:
    """Puts each ORDER_CHANGE the sandbox sends on `queue`, as Amazon's SQS destination would; yields what it put.

    A stand-in until the sandbox delivers to an SQS destination by subscription itself (the documents are its own).
    """
    put: list[dict[str, Any]] = []
    stop = asyncio.Event()

    async def forward() -> None:
        seen: set[str] = set()
        async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as client:
            while not stop.is_set():
                answer = await client.get("/_sandbox/notifications")
                for document in answer.json()["sent"]:
                    if (key := document["NotificationMetadata"]["NotificationId"]) not in seen:
                        seen.add(key)
                        await queue.send(json.dumps(document))
                        put.append(document)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.05)

    task = asyncio.create_task(forward())
    try:
        yield put
    finally:
        stop.set()
        await task
