"""Raw aiokafka throughput on this machine: the baseline every service benchmark is compared with.

Produces N messages of 1 KiB (acks=all, idempotent) to a fresh topic, then consumes them with getmany.
Usage: python bench/kafka_baseline.py [--messages N] [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


async def produce(bootstrap: str, topic: str, count: int, payload: bytes) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        # A fresh topic's partition leaders may still be moving: one untimed record per partition first.
        for partition in range(3):
            await producer.send_and_wait(topic, payload, partition=partition)
        started = time.perf_counter()
        pending = []
        for n in range(count):
            pending.append(await producer.send(topic, payload, key=str(n % 1000).encode()))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def consume(bootstrap: str, topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        started = time.perf_counter()
        seen = 0
        while seen < count + 3:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            seen += sum(len(records) for records in batches.values())
            await consumer.commit()
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092"))
    args = parser.parse_args()
    topic = f"bench.baseline.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=args.bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 3, 1)])
    try:
        payload = os.urandom(1024)
        produce_s = await produce(args.bootstrap, topic, args.messages, payload)
        consume_s = await consume(args.bootstrap, topic, args.messages)
    finally:
        await admin.delete_topics([topic])
        await admin.close()
    mib = args.messages * len(payload) / 2**20
    print(f"kafka baseline: {args.messages} messages of 1 KiB, 3 partitions, acks=all, idempotent producer")
    print(f"  produce: {args.messages / produce_s:,.0f} msg/s  ({mib / produce_s:.1f} MiB/s, {produce_s:.2f} s)")
    print(f"  consume: {args.messages / consume_s:,.0f} msg/s  ({mib / consume_s:.1f} MiB/s, {consume_s:.2f} s)")


if __name__ == "__main__":
    asyncio.run(main())
