"""Kafka helpers for tests: unique topics per test and reading a topic from the start."""

from __future__ import annotations

import time
import uuid

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import ConsumerRecord


def unique_name(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:10]}"


async def create_topics(bootstrap: str, names: list[str], partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


async def read_topic(
    bootstrap: str, topic: str, *, expect: int, timeout: float = 20.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Reads from the beginning until `expect` records arrived or `timeout` passed; returns what was read.

    It then reads a little longer, so a test asserting "exactly N" also sees an unwanted N+1st record.
    """
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = time.monotonic() + timeout
        settle_until: float | None = None
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
            if len(records) >= expect:
                settle_until = settle_until or time.monotonic() + 1.0
                if time.monotonic() >= settle_until:
                    break
    finally:
        await consumer.stop()
    return records
