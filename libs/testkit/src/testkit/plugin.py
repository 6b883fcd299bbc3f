"""pytest plugin: real Kafka, PostgreSQL and SQS (ElasticMQ) for every test, isolated by database and topic names.

Infrastructure comes from KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when set, else testcontainers when a
Docker engine answers, else the repository's local stack (infra/*.sh). Missing infrastructure fails the run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from servicekit import MigrationSource

from testkit import infra, postgres
from testkit.sqs import SqsQueue, sqs_queue

# The SP-API sandbox fixtures live beside these, in their own module.
pytest_plugins = ["testkit.sandbox"]


@pytest.fixture(scope="session")
def repo_root(request: pytest.FixtureRequest) -> Path:
    return infra.repo_root(Path(request.config.rootpath))


@pytest.fixture(scope="session")
def kafka_bootstrap(repo_root: Path) -> Iterator[str]:
    with infra.kafka_bootstrap_servers(repo_root) as servers:
        yield servers


@pytest.fixture(scope="session")
def postgres_server_url(repo_root: Path) -> Iterator[str]:
    with infra.postgres_url(repo_root) as url:
        yield url


@pytest.fixture(scope="session")
def sqs_endpoint_url(repo_root: Path) -> Iterator[str]:
    with infra.sqs_endpoint_url(repo_root) as url:
        yield url


@pytest_asyncio.fixture
async def sqs(sqs_endpoint_url: str) -> AsyncIterator[SqsQueue]:
    """A Standard queue of this test's own (visibility timeout 30 s), deleted afterwards."""
    async with sqs_queue(sqs_endpoint_url) as queue:
        yield queue


@pytest.fixture(scope="session")
def migration_sources() -> dict[str, list[MigrationSource]]:
    """Schemas and their migrations for the template database; the suite's conftest overrides this."""
    return {}


@pytest_asyncio.fixture(scope="session")
async def template_database(
    postgres_server_url: str, migration_sources: dict[str, list[MigrationSource]]
) -> AsyncIterator[str]:
    name = await postgres.create_template(postgres_server_url, migration_sources)
    yield name
    await postgres.drop(postgres_server_url, name)


@pytest_asyncio.fixture
async def database_url(postgres_server_url: str, template_database: str) -> AsyncIterator[str]:
    """A database of this test's own, already migrated, dropped afterwards."""
    name = await postgres.create_copy(postgres_server_url, template_database)
    yield postgres.with_database(postgres_server_url, name)
    await postgres.drop(postgres_server_url, name)


@pytest_asyncio.fixture
async def empty_database_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A database of this test's own with nothing in it, for tests of migrations themselves."""
    name = await postgres.create_copy(postgres_server_url, "template0")
    yield postgres.with_database(postgres_server_url, name)
    await postgres.drop(postgres_server_url, name)
