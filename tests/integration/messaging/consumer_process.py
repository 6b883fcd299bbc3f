"""A minimal service process for shutdown tests: a slow idempotent consumer under servicekit.run_service."""

import asyncio
import sys

import asyncpg
from messaging import Consumer, KafkaSettings, RetryPolicy, kafka_producer
from servicekit import AdminSettings, command_line, configure_logging, create_admin_app, run_service

from tests.integration.messaging.conftest import STOCK
from tests.integration.messaging.effects import counting_handler


async def serve(database_url: str, bootstrap: str, namespace: str, group: str, mode: str) -> None:
    configure_logging(group)
    pool = await asyncpg.create_pool(database_url, server_settings={"search_path": "lib_test"})

    async def broken(event) -> None:
        raise RuntimeError("handler bug")

    handler = broken if mode == "crash" else counting_handler(pool, group, delay=0.02)
    kafka = KafkaSettings(bootstrap_servers=bootstrap, namespace=namespace)
    async with kafka_producer(kafka) as producer:
        consumer = Consumer(
            kafka,
            service=group,
            group_id=group,
            routes={STOCK: handler},
            producer=producer,
            max_records=50,
            retry=RetryPolicy(attempts=2, first_delay=0.01),
        )
        await run_service(create_admin_app(group, checks={}), AdminSettings(port=0), [consumer])


if __name__ == "__main__":
    url, bootstrap, namespace, group, mode = sys.argv[1:6]
    sys.exit(
        command_line(
            group, serve=lambda: serve(url, bootstrap, namespace, group, mode), migrate=asyncio.sleep, argv=["serve"]
        )
    )
