"""Run the sandbox in a background thread with its own event loop, for tests and benchmarks."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn

from spapi_sandbox.app import create_app
from spapi_sandbox.config import SandboxConfig

STARTUP_TIMEOUT_SECONDS = 15.0


@contextlib.contextmanager
def running(config: SandboxConfig | None = None, port: int = 0, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve the sandbox until the block ends; yields its base URL (port 0 picks a free port)."""
    app = create_app(config)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="spapi-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the SP-API sandbox did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
