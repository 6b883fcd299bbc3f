"""Runs an outbox relay that SIGKILLs its own process after the broker acknowledged a batch, before marking it."""

import asyncio
import os
import signal
import sys

import asyncpg
from messaging import KafkaSettings, OutboxRelay, kafka_producer


async def main(database_url: str, bootstrap: str, namespace: str) -> None:
    async def die(_: int) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    pool = await asyncpg.create_pool(database_url, server_settings={"search_path": "lib_test"})
    async with kafka_producer(KafkaSettings(bootstrap_servers=bootstrap)) as producer:
        await OutboxRelay(pool, producer, after_publish=die, namespace=namespace).publish_batch()


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
