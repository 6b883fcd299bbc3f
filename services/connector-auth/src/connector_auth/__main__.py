"""`python -m connector_auth serve|migrate`: serve migrates, then runs until SIGTERM; migrate applies the schema."""

import sys

import servicekit
from contracts import all_pii_field_names

from connector_auth import bootstrap
from connector_auth.settings import Settings

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
