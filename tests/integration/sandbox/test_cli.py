"""`python -m spapi_sandbox --port PORT` serves on 127.0.0.1 and honours its own LWA client credentials."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from testkit import eventually_sync, free_port


@pytest.fixture
def served() -> Iterator[str]:
    port = free_port()
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

    def healthy() -> bool:
        if process.poll() is not None:  # not an AssertionError: eventually would keep waiting on a dead process
            raise RuntimeError(process.stderr.read().decode() if process.stderr else "the sandbox exited")
        try:
            return httpx.get(f"{url}/_sandbox/health").status_code == 200
        except httpx.TransportError:
            return False

    try:
        eventually_sync(healthy, timeout=20, interval=0.1)
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
