"""Poison records: whatever a partition carries, the consumer dead-letters it with its reason and keeps flowing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import contracts
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from messaging import Consumer, KafkaSettings, dead_letter
from testkit import eventually, read_topic

from .conftest import STOCK, stock_event
from .effects import counting_handler
from .test_consumer import _committed, _effects

# aiokafka's default max_request_size, which the broker's default message.max.bytes (1048588) also admits.
MAX_REQUEST = 1_048_576


def _body(**changes: object) -> dict:
    body = json.loads(contracts.encode(stock_event(1)).value or b"")
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = body
        for name in parents:
            target = target[name]
        target[last] = value
    return body


def _json(**changes: object) -> bytes:
    return json.dumps(_body(**changes)).encode()


def _near_the_limit() -> bytes:
    """A value whose record just fits the producer's limit, so the dead-letter headers tip it over."""
    overhead = DefaultRecordBatchBuilder.estimate_size_in_bytes(b"k", b'{"x":""}', [])
    return b'{"x":"' + b"x" * (MAX_REQUEST - 100 - overhead) + b'"}'


@dataclass(frozen=True)
class Poison:
    value: bytes | None
    error: str
    """A fragment dlq_error must contain."""
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    check: Callable[[dict[str, bytes], bytes | None], None] | None = None


def _truncated(headers: dict[str, bytes], value: bytes | None) -> None:
    original = int(headers[dead_letter.VALUE_TRUNCATED])
    assert original > MAX_REQUEST - 1024
    assert value is not None and 0 < len(value) < original
    assert value.startswith(b'{"x":"xxx')


ONE_OF_ANOTHER_TYPE = contracts.encode(contracts.example_event("order.received")).value


def _without_its_pii(headers: dict[str, bytes], value: bytes | None) -> None:
    """An order.received on the wrong topic is dead-lettered without the buyer's PII, the rest kept."""
    original, letter = json.loads(ONE_OF_ANOTHER_TYPE or b""), json.loads(value or b"")
    removed = headers[dead_letter.PII_REMOVED].decode().split(",")
    assert "data.buyer_email" in removed and "data.ship_to.recipient_name" in removed
    assert letter["data"]["buyer_email"] is None and letter["data"]["ship_to"]["recipient_name"] is None
    assert original["data"]["buyer_email"].encode() not in (value or b"")
    assert letter["id"] == original["id"] and letter["data"]["amazon_order_id"] == original["data"]["amazon_order_id"]


CASES = {
    "not-json": Poison(b"{not json", "not valid JSON"),
    "invalid-utf8": Poison(b'{"specversion": "1.0", "id": "\xff\xfe"}', "not valid JSON"),
    "deeply-nested": Poison(b"[" * 200_000, "nested too deeply"),
    "near-the-size-limit": Poison(_near_the_limit(), "specversion", check=_truncated),
    "missing-envelope": Poison(json.dumps({"sku": "SKU-1", "available": 3}).encode(), "specversion"),
    "wrong-envelope": Poison(_json(specversion="0.3"), "specversion"),
    "unknown-major-version": Poison(_json(dataschema="urn:amazon-connector:schema:stock.changed:v2"), "dataschema"),
    "null-value": Poison(None, "null value"),
    "wrong-shape": Poison(_json(data=[1, 2, 3]), "data"),
    "wrong-field-type": Poison(_json(data__available="plenty"), "data.available"),
    "another-topics-event": Poison(ONE_OF_ANOTHER_TYPE, "data.sku", check=_without_its_pii),
    "header-without-value": Poison(contracts.encode(stock_event(1)).value, "ce_id", headers=[("ce_id", None)]),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
async def test_a_poison_record_is_dead_lettered_with_its_reason_and_the_record_behind_it_is_handled(
    case: str,
    pool,
    producer: AIOKafkaProducer,
    kafka: KafkaSettings,
    topic: str,
    service: str,
    dead_letters: str,
    kafka_bootstrap: str,
) -> None:
    poison = CASES[case]
    await producer.send_and_wait(topic, poison.value, key=b"k", headers=poison.headers, partition=0)
    good = contracts.encode(stock_event(2))
    await producer.send_and_wait(topic, good.value, key=good.key, headers=good.headers, partition=0)

    consumer = Consumer(
        kafka, service=service, group_id=service, routes={STOCK: counting_handler(pool, service)}, producer=producer
    )
    task = asyncio.create_task(consumer.run())

    async def handled_or_crashed() -> bool:
        return task.done() or await _effects(pool) == ["SKU-2"]

    try:
        await eventually(handled_or_crashed, timeout=30)
    finally:
        await consumer.stop()
        await task  # re-raises if the consumer stopped on the poison record

    assert await _effects(pool) == ["SKU-2"]
    letters = await read_topic(kafka_bootstrap, dead_letters, expect=1)
    assert len(letters) == 1
    headers = dict(letters[0].headers)
    assert headers[dead_letter.REASON] == dead_letter.INVALID_EVENT.encode()
    assert poison.error.encode() in headers[dead_letter.ERROR], headers[dead_letter.ERROR]
    assert (
        headers[dead_letter.SOURCE_TOPIC],
        headers[dead_letter.SOURCE_PARTITION],
        headers[dead_letter.SOURCE_OFFSET],
        headers[dead_letter.SERVICE],
    ) == (topic.encode(), b"0", b"0", service.encode())
    if poison.check is not None:
        poison.check(headers, letters[0].value)
    else:
        assert dead_letter.VALUE_TRUNCATED not in headers and dead_letter.PII_REMOVED not in headers
        assert letters[0].value == poison.value
    assert await _committed(kafka, service, topic) == 2
