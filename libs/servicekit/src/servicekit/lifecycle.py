"""Runs a service's workers and HTTP servers until SIGTERM; a worker or server that dies takes the process down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import uvicorn
from fastapi import FastAPI

from servicekit.settings import AdminSettings

log = logging.getLogger(__name__)


class Worker(Protocol):
    """A long-running part of a service. `stop` asks it to finish its current batch; `run` then returns."""

    name: str

    async def run(self) -> None: ...

    async def stop(self) -> None: ...


class WorkerCrashed(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Listener:
    """An HTTP app served on a port of its own beside the admin app: e.g. the few public routes an ingress
    exposes, while /admin, /internal and /metrics stay on the admin port."""

    name: str
    app: FastAPI
    host: str
    port: int


class _AdminServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Signals belong to `run_service`, which drains the workers before the HTTP server goes.
        yield


def _server(app: FastAPI, host: str, port: int) -> _AdminServer:
    return _AdminServer(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off"))


async def run_service(
    app: FastAPI,
    admin: AdminSettings,
    workers: Sequence[Worker],
    *,
    grace_seconds: float = 25.0,
    listeners: Sequence[Listener] = (),
) -> None:
    """Returns after a clean shutdown; raises WorkerCrashed when a worker or server failed or stopped by itself."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    servers = {"admin-http": _server(app, admin.host, admin.port)}
    servers |= {f"{extra.name}-http": _server(extra.app, extra.host, extra.port) for extra in listeners}
    https = [asyncio.create_task(server.serve(), name=name) for name, server in servers.items()]
    tasks = {asyncio.create_task(w.run(), name=w.name): w for w in workers}
    stop_wait = asyncio.create_task(stopping.wait(), name="sigterm")
    crashed: list[str] = []
    try:
        done, _ = await asyncio.wait([stop_wait, *https, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is stop_wait:
                log.info("shutdown requested; draining workers")
                continue
            exc = None if task.cancelled() else task.exception()
            log.error("%s stopped unexpectedly", task.get_name(), exc_info=exc)
            crashed.append(task.get_name())
        for worker in tasks.values():
            await worker.stop()
        pending = [t for t in tasks if not t.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=grace_seconds)
            for task in late:
                log.error("%s did not drain within %ss; cancelling", task.get_name(), grace_seconds)
                task.cancel()
                crashed.append(task.get_name())
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() and task.get_name() not in crashed:
                log.error("%s failed while draining", task.get_name(), exc_info=task.exception())
                crashed.append(task.get_name())
    finally:
        for server in servers.values():
            server.should_exit = True
        stop_wait.cancel()
        for http in https:
            with contextlib.suppress(asyncio.CancelledError):
                await http
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    if crashed:
        raise WorkerCrashed(", ".join(crashed))
    log.info("stopped cleanly")
