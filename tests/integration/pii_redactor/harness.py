"""pii-redactor in this process, wired as bootstrap.build wires it, in a private Kafka namespace and a fresh database.

Time is the harness's: the service's clock starts at FIXED_NOW and tests move it with `advance`; the redaction
job runs when a test calls `redact()`, so "day 29" and "day 30" are exact.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import contracts
import httpx
import uvicorn
from aiokafka import AIOKafkaProducer
from messaging import ensure_topics, namespaced
from pii_redactor import bootstrap
from pii_redactor.clock import Clock
from pii_redactor.crypto import generate_key
from pii_redactor.settings import Settings
from servicekit.logging import JsonFormatter
from testkit import eventually, read_topic, unique_name

ROLES = ("viewer", "operator", "admin", "pii_reader")
PURCHASED = datetime(2026, 8, 6, 14, 31, 7, tzinfo=UTC)
FIXED_NOW = datetime(2026, 8, 7, 12, 0, tzinfo=UTC)
SERVICE_TOKEN = "warehouse-token-0123456789abcdef"

# The buyer of the example order: what must never appear outside the vault's ciphertext.
BUYER = {"name": "Jordan Rivera", "street": "1450 Sierra Vista Dr", "phone": "+1 775-555-0142",
         "email": "k3x9qz7w2mlp4vd@marketplace.amazon.com"}  # fmt: skip
_TOPICS = (
    "connection.updated",
    "order.received",
    "order.completed",
    "order.cancelled",
    "shipment.confirmed",
    "order.redacted",
    contracts.dead_letter_topic("pii-redactor"),
    contracts.dead_letter_topic("orders-ingest"),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def make_namespace(kafka_bootstrap: str) -> str:
    namespace = unique_name("ns")
    wanted = [t for t in contracts.kafka_topics() if t.name in _TOPICS]
    await ensure_topics(kafka_bootstrap, wanted, namespace=namespace)
    return namespace


def order_received(order_id: str, connection_id: str = "conn-us-acme", **changes: Any) -> Any:
    data = json.loads(json.dumps(contracts.EXAMPLES["order.received"][0]))
    data.update(amazon_order_id=order_id, connection_id=connection_id, purchase_date=PURCHASED.isoformat(), **changes)
    payload = contracts.OrderReceivedV1.model_validate(data)
    return contracts.new_event("order.received", payload, source="tests", revision=data["last_update_date"])


def order_completed(order_id: str, at: datetime, status: str = "completed", connection_id: str = "conn-us-acme") -> Any:
    data = {"connection_id": connection_id, "marketplace_id": "ATVPDKIKX0DER", "amazon_order_id": order_id,
            "status": status, "occurred_at": at.isoformat(),
            "cancel_reason": "NoInventory" if status == "cancelled" else None}  # fmt: skip
    return contracts.new_event(
        "order.completed", contracts.OrderCompletedV1.model_validate(data), source="oms", revision=at.isoformat()
    )


def order_cancelled(order_id: str, at: datetime, connection_id: str = "conn-us-acme") -> Any:
    data = json.loads(json.dumps(contracts.EXAMPLES["order.cancelled"][0]))
    data.update(amazon_order_id=order_id, connection_id=connection_id, last_update_date=at.isoformat())
    return contracts.new_event(
        "order.cancelled", contracts.OrderCancelledV1.model_validate(data), source="tests", revision=at.isoformat()
    )


def shipment_confirmed(order_id: str, at: datetime, shipment_id: str = "SHP-1", outcome: str = "accepted") -> Any:
    data = json.loads(json.dumps(contracts.EXAMPLES["shipment.confirmed"][0]))
    data.update(amazon_order_id=order_id, shipment_id=shipment_id, confirmed_at=at.isoformat())
    for package in data["packages"]:
        package.update(outcome=outcome, error_code=None if outcome == "accepted" else "InvalidInput")
        if outcome == "accepted":
            package["error_message"] = None
    payload = contracts.ShipmentConfirmedV1.model_validate(data)
    return contracts.new_event("shipment.confirmed", payload, source="shipment-relay", revision=at.isoformat())


def connection_event(connection_id: str, revision: int = 1, **settings: Any) -> Any:
    data = json.loads(json.dumps(contracts.EXAMPLES["connection.updated"][0]))
    data.update(connection_id=connection_id, revision=revision, status="active", updated_at=FIXED_NOW.isoformat())
    data["settings"].update(settings)
    payload = contracts.ConnectionUpdatedV1.model_validate(data)
    return contracts.new_event("connection.updated", payload, source="tests", revision=str(revision))


@dataclass
class Captured(logging.Handler):
    """Every log line of the process, rendered by the services' JSON formatter (the scrubber included)."""

    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter("pii-redactor", contracts.all_pii_field_names()))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    __hash__ = logging.Handler.__hash__


class Harness:
    def __init__(self, *, url: str, namespace: str, kafka: str, database_url: str, tokens: dict[str, str]) -> None:
        self.url = url
        self.namespace = namespace
        self.kafka = kafka
        self.database_url = database_url
        self.tokens = tokens
        self.service: bootstrap.Service | None = None

    @property
    def clock(self) -> Clock:
        assert self.service
        return self.service.clock

    def api(self, role: str = "operator") -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers={"authorization": f"Bearer {self.tokens[role]}"}, timeout=10
        )

    async def send(self, producer: AIOKafkaProducer, *events: Any) -> None:
        for event in events:
            record = contracts.encode(event)
            topic = namespaced(self.namespace, record.topic)
            await producer.send_and_wait(topic, record.value, key=record.key, headers=record.headers)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.database_url, server_settings={"search_path": "pii_redactor"})
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def row(self, order_id: str) -> asyncpg.Record | None:
        rows = await self.fetch("SELECT * FROM vault WHERE amazon_order_id = $1", order_id)
        return rows[0] if rows else None

    async def until(self, order_id: str, column: str, timeout: float = 20.0) -> asyncpg.Record:
        """Waits until the order's row has `column` set (the consumer applied the event)."""

        async def probe() -> asyncpg.Record | None:
            row = await self.row(order_id)
            return row if row is not None and row[column] is not None else None

        found: asyncpg.Record = await eventually(probe, timeout=timeout, interval=0.05)
        return found

    async def until_due(self, order_id: str, due: datetime, timeout: float = 20.0) -> asyncpg.Record:
        """Waits until the order is scheduled for `due` (events of several topics arrive in any order)."""

        async def probe() -> asyncpg.Record | None:
            row = await self.row(order_id)
            return row if row is not None and row["redact_at"] == due else None

        found: asyncpg.Record = await eventually(probe, timeout=timeout, interval=0.05)
        return found

    def at(self, when: datetime) -> None:
        """Sets the service's clock to `when` (forward only)."""
        self.clock.advance(when - self.clock())

    async def redact(self) -> list[str]:
        """One run of the job at the current clock; the ids of the orders it redacted."""
        before = {
            r["amazon_order_id"]
            for r in await self.fetch("SELECT amazon_order_id FROM vault WHERE redacted_at IS NOT NULL")
        }
        assert self.service
        await self.service.job.tick()
        after = {
            r["amazon_order_id"]
            for r in await self.fetch("SELECT amazon_order_id FROM vault WHERE redacted_at IS NOT NULL")
        }
        return sorted(after - before)

    async def redacted_events(self, expect: int, timeout: float = 20.0) -> list[Any]:
        records = await read_topic(
            self.kafka, namespaced(self.namespace, "order.redacted"), expect=expect, timeout=timeout
        )
        return [contracts.decode("order.redacted", r.value, list(r.headers)) for r in records]


@contextlib.asynccontextmanager
async def running(
    *,
    database_url: str,
    kafka_bootstrap: str,
    namespace: str,
    run_job: bool = False,
    token_sources: Any = None,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    """`run_job`: also run the periodic redaction worker (else tests call `redact()`); `overrides`: Settings fields."""
    tokens = {role: secrets.token_urlsafe(24) for role in ROLES}
    port = free_port()
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_namespace=namespace,
        admin_tokens=",".join(f"t-{r}:{r}:{t}" for r, t in tokens.items()),
        pii_encryption_keys=f"k2:{generate_key()},k1:{generate_key()}",
        service_tokens=f"warehouse:{SERVICE_TOKEN}",
        consumer_group=unique_name("pii"),
        **overrides,
    )  # type: ignore[call-arg]
    harness = Harness(
        url=f"http://127.0.0.1:{port}",
        namespace=namespace,
        kafka=kafka_bootstrap,
        database_url=database_url,
        tokens=tokens,
    )
    base = FIXED_NOW
    async with bootstrap.build(settings, clock=Clock(lambda: base), token_sources=token_sources) as service:
        harness.service = service
        server = uvicorn.Server(
            uvicorn.Config(service.app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off")
        )
        http = asyncio.create_task(server.serve())
        workers = [w for w in service.workers if run_job or w.name != "redaction"]
        tasks = [asyncio.create_task(w.run(), name=w.name) for w in workers]
        try:
            await eventually(lambda: asyncio.sleep(0, result=server.started), timeout=10, interval=0.05)
            await eventually(service.consumer.ready, timeout=20)
            yield harness
        finally:
            for worker in workers:
                await worker.stop()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            server.should_exit = True
            await http
            failures = [r for r in results if isinstance(r, BaseException)]
            assert not failures, f"a worker crashed: {failures!r}"


def days(n: float) -> timedelta:
    return timedelta(days=n)
