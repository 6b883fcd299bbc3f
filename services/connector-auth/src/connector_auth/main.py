"""Process entrypoints: `migrate` applies the schema; `serve` migrates, then runs until SIGTERM."""

from __future__ import annotations

import logging

import servicekit
from contracts import all_pii_field_names

from connector_auth import bootstrap
from connector_auth.settings import Settings


async def migrate() -> None:
    # Only the database: the migrations Job never gets the encryption key or LWA credentials.
    settings = servicekit.ServiceSettings()  # type: ignore[call-arg]
    servicekit.configure_logging(bootstrap.SERVICE, settings.log_level)
    await servicekit.migrate_database(settings.database_url.get_secret_value(), bootstrap.SCHEMA, bootstrap.MIGRATIONS)


async def serve() -> None:
    settings = Settings()  # type: ignore[call-arg]
    servicekit.configure_logging(bootstrap.SERVICE, settings.log_level, redact_keys=all_pii_field_names())
    # httpcore's debug lines echo response headers; nothing of ours needs them.
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    await servicekit.migrate_database(settings.database_url.get_secret_value(), bootstrap.SCHEMA, bootstrap.MIGRATIONS)
    async with bootstrap.build(settings) as service:
        await servicekit.run_service(service.app, settings.admin(), service.workers)
