"""Batch handlers: a topic's valid events of one fetched batch in one call, and every per-event rule kept.

The loop's batch step is driven directly with records built here; a fake producer stands for the broker's dead
letters. Real Kafka and PostgreSQL: tests/integration/messaging/test_batch_consumer.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import asyncpg
import contracts
import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from messaging import Consumer, KafkaSettings, Rejected, RetryPolicy, dead_letter
from prometheus_client import REGISTRY

STOCK = "stock.changed"
KAFKA = KafkaSettings(bootstrap_servers="127.0.0.1:1", namespace="unit")
WIRE = KAFKA.topic(STOCK)


class Letters:
    """A producer that only takes dead letters."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, dict[str, bytes]]] = []

    async def send_and_wait(self, topic: str, value: bytes | None = None, key: Any = None, headers: Any = None) -> None:
        self.sent.append((topic, value, dict(headers or [])))

    def reasons(self) -> list[tuple[bytes, bytes]]:
        return [(h[dead_letter.REASON], h[dead_letter.SOURCE_OFFSET]) for _, _, h in self.sent]


def event(n: int) -> contracts.CloudEvent:
    data = contracts.StockChangedV1(
        sku=f"SKU-{n}", warehouse_id="WH-1", available=n, as_of=datetime(2026, 11, 1, 12, 0, n % 60, tzinfo=UTC)
    )
    return contracts.new_event("stock.changed", data, source="tests", revision=str(n))


def record(offset: int, value: bytes | None, partition: int = 0, headers: Any = ()) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=WIRE, partition=partition, offset=offset, timestamp=0, timestamp_type=0, key=b"k", value=value,
        checksum=None, serialized_key_size=1, serialized_value_size=len(value or b""), headers=list(headers),
    )  # fmt: skip


def records(*numbers: int, partition: int = 0, first_offset: int = 0) -> list[ConsumerRecord[bytes, bytes]]:
    out = []
    for offset, n in enumerate(numbers, start=first_offset):
        encoded = contracts.encode(event(n))
        out.append(record(offset, encoded.value, partition, encoded.headers))
    return out


def consumer(handler: Any, letters: Letters, **kw: Any) -> Consumer:
    return Consumer(
        KAFKA, service="svc", group_id="svc", batch_routes={STOCK: handler}, producer=letters,  # type: ignore[arg-type]
        retry=RetryPolicy(attempts=2, first_delay=0.001, max_delay=0.001), **kw,
    )  # fmt: skip


def handled() -> float:
    return REGISTRY.get_sample_value("events_handled_total", {"topic": STOCK}) or 0.0


def skus(events: list[contracts.CloudEvent]) -> list[str]:
    return [e.data.sku for e in events]


async def test_the_valid_events_of_a_batch_reach_the_handler_in_one_call_in_partition_order() -> None:
    calls: list[list[str]] = []

    async def apply(events: list[contracts.CloudEvent]) -> None:
        calls.append(skus(events))

    letters = Letters()
    loop = consumer(apply, letters)
    before = handled()
    p0, p1 = TopicPartition(WIRE, 0), TopicPartition(WIRE, 1)
    await loop._apply_all({p0: records(1, 2, 3), p1: records(4, 5, partition=1, first_offset=7)})

    assert calls == [["SKU-1", "SKU-2", "SKU-3", "SKU-4", "SKU-5"]]
    assert loop._positions == {p0: 3, p1: 9}
    assert handled() == before + 5, "counted per event, not per batch"
    assert letters.sent == []


async def test_undecodable_records_are_dead_lettered_one_by_one_and_never_reach_the_handler() -> None:
    calls: list[list[str]] = []

    async def apply(events: list[contracts.CloudEvent]) -> None:
        calls.append(skus(events))

    invalid = json.loads(contracts.encode(event(2)).value)
    invalid["data"]["available"] = -3
    batch = records(1)
    batch += [record(1, b"{not json"), record(2, json.dumps(invalid).encode())]
    batch += records(4, first_offset=3)
    letters = Letters()
    loop = consumer(apply, letters)
    await loop._apply_all({TopicPartition(WIRE, 0): batch})

    assert calls == [["SKU-1", "SKU-4"]]
    assert letters.reasons() == [(b"invalid-event", b"1"), (b"invalid-event", b"2")]
    assert loop._positions == {TopicPartition(WIRE, 0): 4}


async def test_a_rejected_event_in_a_batch_is_isolated_one_at_a_time_and_the_rest_applied() -> None:
    applied: list[str] = []
    calls: list[list[str]] = []

    async def apply(events: list[contracts.CloudEvent]) -> None:
        # All or nothing, as a transaction would be.
        calls.append(skus(events))
        if any(e.data.sku == "SKU-3" for e in events):
            raise Rejected("SKU-3 is fulfilled by Amazon")
        applied.extend(skus(events))

    letters = Letters()
    loop = consumer(apply, letters)
    before = handled()
    await loop._apply_all({TopicPartition(WIRE, 0): records(1, 2, 3, 4)})

    assert calls == [["SKU-1", "SKU-2", "SKU-3", "SKU-4"], ["SKU-1"], ["SKU-2"], ["SKU-3"], ["SKU-4"]]
    assert applied == ["SKU-1", "SKU-2", "SKU-4"]
    assert letters.reasons() == [(b"rejected", b"2")]
    assert letters.sent[0][2][dead_letter.ERROR] == b"SKU-3 is fulfilled by Amazon"
    assert handled() == before + 3
    assert loop._positions == {TopicPartition(WIRE, 0): 4}


async def test_an_event_a_batch_handler_finds_invalid_is_dead_lettered_as_invalid() -> None:
    applied: list[str] = []

    async def apply(events: list[contracts.CloudEvent]) -> None:
        for e in events:
            if e.data.available == 0:
                contracts.StockChangedV1.model_validate({"sku": e.data.sku, "available": "none"})
        applied.extend(skus(events))

    letters = Letters()
    await consumer(apply, letters)._apply_all({TopicPartition(WIRE, 0): records(1, 0, 2)})

    assert applied == ["SKU-1", "SKU-2"]
    assert letters.reasons() == [(b"invalid-event", b"1")]
    assert b"invalid for its handler" in letters.sent[0][2][dead_letter.ERROR]


async def test_an_outage_retries_the_whole_batch_and_applies_it_once() -> None:
    calls: list[list[str]] = []

    async def apply(events: list[contracts.CloudEvent]) -> None:
        calls.append(skus(events))
        if len(calls) == 1:
            raise asyncpg.CannotConnectNowError("the database system is starting up")

    letters = Letters()
    loop = consumer(apply, letters)
    before = handled()
    await loop._apply_all({TopicPartition(WIRE, 0): records(1, 2, 3)})

    assert calls == [["SKU-1", "SKU-2", "SKU-3"]] * 2, "retried whole, not one at a time"
    assert handled() == before + 3
    assert letters.sent == []


async def test_a_bug_in_every_call_stops_the_loop_without_moving_the_offsets() -> None:
    calls = 0

    async def apply(events: list[contracts.CloudEvent]) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("the handler has a bug")

    loop = consumer(apply, Letters())
    with pytest.raises(RuntimeError):
        await loop._apply_all({TopicPartition(WIRE, 0): records(1, 2)})
    assert calls == 1 + 2, "the batch once, then the first event up to its retry budget"
    assert loop._positions == {}


async def test_a_tombstone_applies_the_events_before_it_first_then_the_rest() -> None:
    seen: list[Any] = []

    async def apply(events: list[contracts.CloudEvent]) -> None:
        seen.append(skus(events))

    async def removed(key: bytes | None) -> None:
        seen.append(key)

    batch = [*records(1, 2), record(2, None), *records(3, first_offset=3)]
    loop = consumer(apply, Letters(), tombstones={STOCK: removed})
    await loop._apply_all({TopicPartition(WIRE, 0): batch})

    assert seen == [["SKU-1", "SKU-2"], b"k", ["SKU-3"]]
    assert loop._positions == {TopicPartition(WIRE, 0): 4}


def test_a_topic_has_either_a_handler_or_a_batch_handler() -> None:
    async def one(_: Any) -> None:
        return None

    with pytest.raises(ValueError, match="batch handler"):
        Consumer(KAFKA, service="s", group_id="s", routes={STOCK: one}, batch_routes={STOCK: one}, producer=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one route"):
        Consumer(KAFKA, service="s", group_id="s", producer=None)  # type: ignore[arg-type]
