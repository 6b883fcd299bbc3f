"""Suite-wide fixtures: the template database carries every service's schema and a scratch schema for libs."""

from pathlib import Path

import contracts
import messaging
import pytest
import pytest_asyncio
from servicekit import MigrationSource

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ["orders-ingest", "stock-publisher", "shipment-relay", "pii-redactor", "connector-auth"]
LIB_TEST_SCHEMA = "lib_test"


@pytest.fixture(scope="session")
def migration_sources() -> dict[str, list[MigrationSource]]:
    outbox_inbox = MigrationSource("messaging", messaging.MIGRATIONS_DIR)
    schemas = {
        s.replace("-", "_"): [outbox_inbox, MigrationSource(s, ROOT / "services" / s / "migrations")] for s in SERVICES
    }
    schemas[LIB_TEST_SCHEMA] = [outbox_inbox]
    return schemas


@pytest_asyncio.fixture(scope="session")
async def kafka_bootstrap(kafka_bootstrap: str) -> str:
    """The plugin's broker, with the registry's topics created as `make kafka` does."""
    await messaging.ensure_topics(kafka_bootstrap, contracts.kafka_topics())
    return kafka_bootstrap
