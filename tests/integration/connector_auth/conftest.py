"""Fixtures for connector-auth against real PostgreSQL, Kafka and the SP-API sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from testkit import create_topics, unique_name
from testkit.sandbox import Sandbox

from .harness import Running, running


@pytest_asyncio.fixture
async def topic(kafka_bootstrap: str) -> str:
    name = unique_name("connection.updated")
    await create_topics(kafka_bootstrap, [name])
    return name


@pytest_asyncio.fixture
async def svc(database_url: str, kafka_bootstrap: str, sandbox: Sandbox, topic: str) -> AsyncIterator[Running]:
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox_url=sandbox.url, topic=topic
    ) as service:
        yield service
