"""catalog-sync in this process, wired as bootstrap.build wires it, in a private Kafka namespace and a fresh database.

Amazon is the session's sandbox (speed-up 100); the access token comes from the sandbox's LWA endpoint through
the composition root's token seam instead of connector-auth.
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
from catalog_sync import bootstrap
from catalog_sync.settings import Settings
from catalog_sync.sync import Tuning
from messaging import ensure_topics, namespaced
from testkit import eventually, read_topic, unique_name
from testkit.sandbox import SPEEDUP, Sandbox

ROLES = ("viewer", "operator", "admin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def connection_event(
    connection_id: str,
    revision: int = 1,
    *,
    region: str = "NA",
    marketplace_ids: tuple[str, ...] = ("ATVPDKIKX0DER",),
    seller_id: str = "A1SANDBOXSELLER",
    **settings: Any,
) -> Any:
    example = json.loads(json.dumps(contracts.EXAMPLES["connection.updated"][0]))
    example.update(
        connection_id=connection_id,
        revision=revision,
        status="active",
        region=region,
        marketplace_ids=list(marketplace_ids),
        selling_partner_id=seller_id,
        warnings=[],
        updated_at=datetime.now(UTC).isoformat(),
    )
    example["settings"].update(settings)
    data = contracts.ConnectionUpdatedV1.model_validate(example)
    return contracts.new_event("connection.updated", data, source="tests", revision=str(revision))


_TOPICS = ("connection.updated", "listing.updated", "fba.inventory", "stock.changed", "dlq.catalog-sync")


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


class Harness:
    def __init__(self, *, url: str, topics: Topicset, kafka: str, database_url: str, tokens: dict[str, str]) -> None:
        self.url = url
        self.topics = topics
        self.kafka = kafka
        self.database_url = database_url
        self.tokens = tokens
        self.service: bootstrap.Service | None = None

    def api(self, role: str = "operator") -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers={"authorization": f"Bearer {self.tokens[role]}"}, timeout=30
        )

    async def send(self, producer: AIOKafkaProducer, event: Any) -> None:
        record = contracts.encode(event)
        await producer.send_and_wait(
            self.topics.wire(record.topic), record.value, key=record.key, headers=record.headers
        )

    async def connect(self, producer: AIOKafkaProducer, connection_id: str, **fields: Any) -> None:
        await self.send(producer, connection_event(connection_id, **fields))

    async def stock(self, producer: AIOKafkaProducer, sku: str, warehouse_id: str, available: int) -> None:
        data = contracts.StockChangedV1(
            sku=sku, warehouse_id=warehouse_id, available=available, as_of=datetime.now(UTC)
        )
        await self.send(producer, contracts.new_event("stock.changed", data, source="wms", revision="1"))

    async def records(self, topic: str, expect: int, timeout: float = 60.0) -> list[ConsumerRecord[bytes, bytes]]:
        return await read_topic(self.kafka, self.topics.wire(topic), expect=expect, timeout=timeout)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url, server_settings={"search_path": "catalog_sync"})
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def runs(self, **params: Any) -> list[dict[str, Any]]:
        async with self.api("viewer") as api:
            answer = await api.get("/admin/sync-runs", params={"limit": 500, **params})
            answer.raise_for_status()
            return list(reversed(answer.json()))

    async def wait_for_runs(self, count: int, timeout: float = 90, **match: Any) -> list[dict[str, Any]]:
        async def probe() -> list[dict[str, Any]] | None:
            done = [
                r
                for r in await self.runs()
                if r["status"] in ("succeeded", "failed") and all(r.get(k) == v for k, v in match.items())
            ]
            return done if len(done) >= count else None

        try:
            found: list[dict[str, Any]] = await eventually(probe, timeout=timeout, interval=0.2)
        except AssertionError:
            summary = [(r["id"], r["lane"], r["trigger"], r["status"], r["error"]) for r in await self.runs()]
            raise AssertionError(f"no {count} finished runs matching {match}: {summary}") from None
        return found


def decode(topic: str, records: list[ConsumerRecord[bytes, bytes]]) -> list[contracts.CloudEvent]:
    return [contracts.decode(topic, r.value, list(r.headers)) for r in records if r.value is not None]


@contextlib.asynccontextmanager
async def running(
    *,
    database_url: str,
    kafka_bootstrap: str,
    sandbox: Sandbox,
    topics: Topicset,
    tuning: Tuning | None = None,
    crash: bool = False,
) -> AsyncIterator[Harness]:
    """`crash`: leave by cancelling every worker mid-flight (no stop(), no final commit) instead of stopping."""
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
    )  # type: ignore[call-arg]
    access_tokens: dict[str, str] = {}

    def token_for(connection_id: str) -> spapi.TokenSource:
        return spapi.StaticTokenSource(access_tokens.get(connection_id) or sandbox.access_token())

    harness = Harness(
        url=f"http://127.0.0.1:{port}", topics=topics, kafka=kafka_bootstrap, database_url=database_url, tokens=tokens
    )
    harness.access_tokens = access_tokens  # type: ignore[attr-defined]
    async with bootstrap.build(settings, token_sources=token_for, tuning=tuning or Tuning(speedup=SPEEDUP)) as service:
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
            if crash:
                # The scheduler would let a running import finish: cancel it where it stands first.
                for task in list(service.scheduler._inflight.values()):
                    task.cancel()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                # As a killed process would: sessions (and the lane locks they hold) just drop.
                service.pool.terminate()
                results: list[Any] = []
            else:
                for worker in service.workers:
                    await worker.stop()
                results = await asyncio.gather(*tasks, return_exceptions=True)
            server.should_exit = True
            await http
            failures = [r for r in results if isinstance(r, BaseException)]
            assert not failures, f"a worker crashed: {failures!r}"
