"""Fixtures for connector-auth against real PostgreSQL, Kafka and the SP-API sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator

import contracts
import pytest
import pytest_asyncio
from messaging import ensure_topics, namespaced
from testkit import unique_name
from testkit.sandbox import Sandbox

from .harness import Running, running


@pytest_asyncio.fixture
async def namespace(kafka_bootstrap: str) -> str:
    """A private KAFKA_NAMESPACE holding this test's copy of connection.updated."""
    name = unique_name("ns")
    spec = [t for t in contracts.kafka_topics() if t.name == "connection.updated"]
    await ensure_topics(kafka_bootstrap, spec, namespace=name)
    return name


@pytest.fixture
def topic(namespace: str) -> str:
    return namespaced(namespace, "connection.updated")


@pytest_asyncio.fixture
async def svc(database_url: str, kafka_bootstrap: str, sandbox: Sandbox, namespace: str) -> AsyncIterator[Running]:
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox_url=sandbox.url, namespace=namespace
    ) as service:
        yield service
