"""`python -m pii_redactor serve|migrate`: serve migrates, then runs until SIGTERM; migrate applies the schema."""

import sys

import servicekit
from contracts import all_pii_field_names

from pii_redactor import bootstrap
from pii_redactor.settings import Settings

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
