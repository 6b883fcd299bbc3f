"""Suite-wide fixtures: the template database carries every service's schema and a scratch schema for libs."""

import importlib

import contracts
import messaging
import pytest
import pytest_asyncio
import synchistory
from servicekit import MigrationSource

SERVICES = ["orders-ingest", "stock-publisher", "shipment-relay", "pii-redactor", "connector-auth", "catalog-sync"]
LIB_TEST_SCHEMA = "lib_test"


@pytest.fixture(scope="session")
def migration_sources() -> dict[str, list[MigrationSource]]:
    # Each service's own list (its bootstrap.MIGRATIONS), so the libs' migrations it applies are there too.
    bootstraps = [importlib.import_module(f"{s.replace('-', '_')}.bootstrap") for s in SERVICES]
    schemas = {b.SCHEMA: list(b.MIGRATIONS) for b in bootstraps}
    schemas[LIB_TEST_SCHEMA] = [
        MigrationSource("messaging", messaging.MIGRATIONS_DIR),
        MigrationSource("synchistory", synchistory.MIGRATIONS_DIR),
    ]
    return schemas


@pytest_asyncio.fixture(scope="session")
async def kafka_bootstrap(kafka_bootstrap: str) -> str:
    """The plugin's broker, with the registry's topics created as `make kafka` does."""
    await messaging.ensure_topics(kafka_bootstrap, contracts.kafka_topics())
    return kafka_bootstrap
