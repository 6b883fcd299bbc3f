"""`python -m <service> serve|migrate` for a service described by its composition root."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol, TypeVar

from fastapi import FastAPI
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from servicekit.cli import command_line
from servicekit.garbage_collection import settle_heap
from servicekit.lifecycle import Listener, Worker, run_service
from servicekit.logging import configure_logging
from servicekit.migrations import MigrationSource, migrate_database
from servicekit.settings import ServiceSettings


class Runtime(Protocol):
    @property
    def app(self) -> FastAPI: ...

    @property
    def workers(self) -> Sequence[Worker]: ...


def _listeners(runtime: Runtime) -> Sequence[Listener]:
    """A runtime may also have `listeners` (apps on ports of their own); most have none."""
    found: Sequence[Listener] = getattr(runtime, "listeners", ())
    return found


class _MigrationSettings(BaseSettings):
    # Only the database: a migrations Job never receives Kafka addresses, tokens or keys.
    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)

    database_url: SecretStr
    log_level: str = "INFO"


S = TypeVar("S", bound=ServiceSettings)


def service_main(
    service: str,
    *,
    schema: str,
    migrations: list[MigrationSource],
    settings: Callable[[], S],
    build: Callable[[S], AbstractAsyncContextManager[Runtime]],
    redact_keys: Iterable[str] = (),
    argv: list[str] | None = None,
) -> int:
    async def migrate() -> None:
        config = _MigrationSettings()  # type: ignore[call-arg]
        configure_logging(service, config.log_level)
        await migrate_database(config.database_url.get_secret_value(), schema, migrations)

    async def serve() -> None:
        config = settings()
        configure_logging(service, config.log_level, redact_keys=redact_keys)
        # httpcore's debug lines echo request and response headers, tokens among them.
        logging.getLogger("httpcore").setLevel(logging.WARNING)
        await migrate_database(config.database_url.get_secret_value(), schema, migrations)
        async with build(config) as runtime:
            settle_heap()
            await run_service(runtime.app, config.admin(), runtime.workers, listeners=_listeners(runtime))

    return command_line(service, serve=serve, migrate=migrate, argv=argv)
