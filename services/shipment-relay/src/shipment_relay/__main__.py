"""`python -m shipment_relay serve|migrate`: serve migrates, then runs until SIGTERM; migrate applies the schema."""

import sys

import servicekit
from contracts import all_pii_field_names

from shipment_relay import bootstrap
from shipment_relay.settings import Settings

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
