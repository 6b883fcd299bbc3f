"""stock-publisher in this process, wired as bootstrap.build wires it, in a private Kafka namespace and fresh database.

Amazon is the session's sandbox (speed-up 100, writes applied 0.3 s after they are accepted); the access token
comes from the sandbox's LWA endpoint through the composition root's token seam. listing.updated is published by
the tests themselves (the contract), not by catalog-sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import contracts
import httpx
import spapi
import uvicorn
from aiokafka import AIOKafkaProducer
from messaging import ensure_topics, namespaced
from stock_publisher import bootstrap
from stock_publisher.publisher import Tuning
from stock_publisher.settings import Settings
from testkit import eventually, read_topic, unique_name
from testkit.sandbox import SPEEDUP, Sandbox

ROLES = ("viewer", "operator", "admin")
SELLER = "A1SANDBOXSELLER"
MARKETPLACE = "ATVPDKIKX0DER"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fast(**changes: Any) -> Tuning:
    """Sandbox timing: a short coalesce window, Amazon's durations ÷ SPEEDUP."""
    values: dict[str, Any] = {"speedup": SPEEDUP, "coalesce": timedelta(seconds=0.3)}
    values.update(changes)
    return Tuning(**values)


def connection_event(connection_id: str, revision: int = 1, **settings: Any) -> Any:
    example = json.loads(json.dumps(contracts.EXAMPLES["connection.updated"][0]))
    example.update(
        connection_id=connection_id,
        revision=revision,
        status="active",
        region="NA",
        marketplace_ids=[MARKETPLACE],
        selling_partner_id=SELLER,
        warnings=[],
        updated_at=datetime.now(UTC).isoformat(),
    )
    example["settings"].update({"stock_cadence": {"mode": "near_real_time"}, "handling_time_days": 2})
    example["settings"].update(settings)
    data = contracts.ConnectionUpdatedV1.model_validate(example)
    return contracts.new_event("connection.updated", data, source="tests", revision=str(revision))


def listing_event(connection_id: str, sku: str, *, item_id: str | None = None, channel: str = "MFN", revision: int = 1):  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    data = contracts.ListingUpdatedV1(
        connection_id=connection_id,
        sku=sku,
        listing_key=contracts.listing_key(connection_id, sku),
        revision=revision,
        marketplace_id=MARKETPLACE,
        status="BUYABLE",
        fulfillment_channel=channel,
        item_id=item_id or sku,
        updated_at=now,
    )  # type: ignore[arg-type]
    return contracts.new_event("listing.updated", data, source="tests", revision=str(revision))


def stock_event(item_id: str, warehouse_id: str, available: int, as_of: datetime) -> Any:
    data = contracts.StockChangedV1(sku=item_id, warehouse_id=warehouse_id, available=available, as_of=as_of)
    return contracts.new_event("stock.changed", data, source="tests", revision=as_of.isoformat())


_TOPICS = (
    "connection.updated",
    "stock.changed",
    "listing.updated",
    "stock.published",
    contracts.dead_letter_topic("stock-publisher"),
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


class Harness:
    def __init__(self, *, url: str, topics: Topicset, kafka: str, database_url: str, tokens: dict[str, str]) -> None:
        self.url = url
        self.topics = topics
        self.kafka = kafka
        self.database_url = database_url
        self.tokens = tokens
        self.service: bootstrap.Service | None = None
        self.crashed = False
        self.tasks: list[asyncio.Task[None]] = []

    def api(self, role: str = "operator") -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers={"authorization": f"Bearer {self.tokens[role]}"}, timeout=10
        )

    async def crash(self) -> None:
        """Stops every worker at once, mid-work, as a SIGKILL would: nothing finishes, nothing is committed."""
        self.crashed = True
        assert self.service is not None
        # The scheduler's lane passes are tasks of their own: they die too (a private attribute, for this only).
        doomed = [*self.tasks, *self.service.scheduler._inflight.values()]
        for task in doomed:
            task.cancel()
        await asyncio.gather(*doomed, return_exceptions=True)


async def send(producer: AIOKafkaProducer, topics: Topicset, events: Iterable[Any]) -> None:
    futures = []
    for event in events:
        record = contracts.encode(event)
        futures.append(
            await producer.send(topics.wire(event.type), record.value, key=record.key, headers=record.headers)
        )
    await asyncio.gather(*futures)


async def published(
    kafka: str, topics: Topicset, expect: int, timeout: float = 30.0
) -> list[contracts.StockPublishedV1]:
    records = await read_topic(kafka, topics.wire("stock.published"), expect=expect, timeout=timeout)
    return [contracts.decode("stock.published", r.value, list(r.headers)).data for r in records]


async def fetch(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "stock_publisher"})
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def create_listings(sandbox: Sandbox, skus: Iterable[str], **fields: Any) -> None:
    gate = asyncio.Semaphore(32)
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=30) as client:

        async def one(sku: str) -> None:
            async with gate:
                answer = await client.post(
                    "/_sandbox/listings", json={"seller_id": SELLER, "sku": sku, "quantity": 0, **fields}
                )
                answer.raise_for_status()

        await asyncio.gather(*(one(s) for s in skus))


@contextlib.asynccontextmanager
async def running(
    *,
    database_url: str,
    kafka_bootstrap: str,
    sandbox: Sandbox,
    topics: Topicset,
    tuning: Tuning | None = None,
    group: str | None = None,
    **settings_extra: Any,
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
        consumer_group=group or "stock-publisher",
        **settings_extra,
    )  # type: ignore[call-arg]
    access_token = sandbox.access_token()
    harness = Harness(
        url=f"http://127.0.0.1:{port}", topics=topics, kafka=kafka_bootstrap, database_url=database_url, tokens=tokens
    )
    async with bootstrap.build(
        settings,
        token_sources=lambda _connection_id: spapi.StaticTokenSource(access_token),
        tuning=tuning or fast(),
    ) as service:
        harness.service = service
        server = uvicorn.Server(
            uvicorn.Config(service.app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off")
        )
        http = asyncio.create_task(server.serve())
        harness.tasks = [asyncio.create_task(w.run(), name=w.name) for w in service.workers]
        try:
            await eventually(lambda: asyncio.sleep(0, result=server.started), timeout=10, interval=0.05)
            await eventually(service.consumer.ready, timeout=20)
            yield harness
        finally:
            if not harness.crashed:
                for worker in service.workers:
                    await worker.stop()
            results = await asyncio.gather(*harness.tasks, return_exceptions=True)
            server.should_exit = True
            await http
            if not harness.crashed:
                failures = [r for r in results if isinstance(r, BaseException)]
                assert not failures, f"a worker crashed: {failures!r}"
