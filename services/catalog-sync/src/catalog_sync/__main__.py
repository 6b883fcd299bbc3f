"""`python -m catalog_sync serve|migrate`: serve migrates, then runs until SIGTERM; migrate applies the schema."""

import sys

import servicekit
from contracts import all_pii_field_names

from catalog_sync import bootstrap
from catalog_sync.settings import Settings

sys.exit(
    servicekit.service_main(
        bootstrap.SERVICE,
        schema=bootstrap.SCHEMA,
        migrations=bootstrap.MIGRATIONS,
        settings=Settings,
        build=bootstrap.build,
        redact_keys=all_pii_field_names(),
    )
)
