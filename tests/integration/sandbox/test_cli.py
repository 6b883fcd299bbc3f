"""`python -m spapi_sandbox --port PORT` serves on 127.0.0.1 and honours its own LWA client credentials."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spapi_sandbox",
            "--port",
            str(port),
            "--speedup",
            "10",
            "--lwa-client-id",
            "my-client",
            "--lwa-client-secret",
            "my-secret",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/_sandbox/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else "exited"
            assert time.monotonic() < deadline, "sandbox did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_cli_serves_and_checks_configured_client(served: str) -> None:
    form = {"grant_type": "refresh_token", "refresh_token": "Atzr|sandbox-default-seller-refresh-token"}
    wrong = httpx.post(f"{served}/auth/o2/token", data={**form, "client_id": "my-client", "client_secret": "nope"})
    assert wrong.status_code == 401
    right = httpx.post(f"{served}/auth/o2/token", data={**form, "client_id": "my-client", "client_secret": "my-secret"})
    token = right.json()["access_token"]
    answer = httpx.get(f"{served}/sellers/v1/marketplaceParticipations", headers={"x-amz-access-token": token})
    assert answer.status_code == 200
    assert answer.headers["x-amzn-RateLimit-Limit"] == "0.16"
