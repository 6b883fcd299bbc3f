from collections.abc import AsyncIterator

import pytest_asyncio
from aiokafka import AIOKafkaProducer
from messaging import KafkaSettings, kafka_producer

from .harness import Topicset, make_topics


@pytest_asyncio.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    async with kafka_producer(KafkaSettings(bootstrap_servers=kafka_bootstrap, client_id="tests")) as p:
        yield p


@pytest_asyncio.fixture
async def topics(kafka_bootstrap: str) -> Topicset:
    return await make_topics(kafka_bootstrap)
