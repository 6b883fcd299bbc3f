"""Creates every topic of the registry in libs/contracts (event and dead-letter topics) on a broker; idempotent."""

from __future__ import annotations

import asyncio
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from contracts import kafka_topics


async def main(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="topic-setup")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [NewTopic(t.name, t.partitions, 1, topic_configs=dict(t.configs)) for t in kafka_topics()]
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            await admin.create_topics(missing)
        print(f"topics: {len(wanted)} in the registry, {len(missing)} created")
    finally:
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:19092"))
