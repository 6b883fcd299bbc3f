"""`python -m orders_ingest serve|migrate`: serve migrates, then runs until SIGTERM; migrate applies the schema."""

import sys

import servicekit
from contracts import all_pii_field_names

from orders_ingest import bootstrap
from orders_ingest.settings import Settings

sys.exit(
    servicekit.service_main(
        bootstrap.SERVICE,
        schema=bootstrap.SCHEMA,
        migrations=bootstrap.MIGRATIONS,
        settings=Settings,  # type: ignore[arg-type]  # pydantic-settings fills the fields from the environment
        build=bootstrap.build,
        redact_keys=all_pii_field_names(),
    )
)
