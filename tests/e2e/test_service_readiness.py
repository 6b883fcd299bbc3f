"""Every service process: migrates, serves /livez and /readyz, and follows Kafka and PostgreSQL going away."""

import asyncio
import os
import secrets
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from contracts import kafka_topics
from messaging import ensure_topics
from testkit import eventually

from .private_infra import PrivateInfra, free_port, private_infra
from .test_connect_seller import secret_env

SERVICES = ["orders_ingest", "catalog_sync", "stock_publisher", "shipment_relay", "pii_redactor", "connector_auth"]


@pytest.fixture
def private(repo_root: Path) -> Iterator[PrivateInfra]:
    with private_infra(repo_root) as infra:
        yield infra


async def _status(url: str) -> int | None:
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            return (await client.get(url)).status_code
    except httpx.HTTPError:
        return None


async def _readyz_becomes(url: str, code: int, timeout: float = 60) -> None:
    async def probe() -> bool:
        return await _status(url) == code

    await eventually(probe, timeout=timeout, interval=0.5)


@pytest.mark.slow
async def test_readyz_follows_kafka_and_postgres_going_down_and_coming_back(private: PrivateInfra) -> None:
    # A fresh broker, as after `make kafka`: the registry's topics exist before any service consumes them.
    await ensure_topics(private.bootstrap, kafka_topics())
    port = free_port()
    env = {
        **secret_env(),
        **os.environ,
        "DATABASE_URL": private.postgres("url"),
        "KAFKA_BOOTSTRAP_SERVERS": private.bootstrap,
        "ADMIN_PORT": str(port),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pii_redactor",
        "serve",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    readyz = f"http://127.0.0.1:{port}/readyz"
    try:
        await _readyz_becomes(readyz, 200)
        private.kafka("stop")
        await _readyz_becomes(readyz, 503)
        assert await _status(f"http://127.0.0.1:{port}/livez") == 200
        private.kafka("start")
        await _readyz_becomes(readyz, 200)
        private.postgres("stop")
        await _readyz_becomes(readyz, 503)
        private.postgres("start")
        await _readyz_becomes(readyz, 200)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=40)
    assert process.returncode == 0, output.decode()[-3000:]


@pytest.mark.parametrize("module", SERVICES)
async def test_every_service_migrates_its_own_schema_and_serves_health(
    module: str, empty_database_url: str, kafka_bootstrap: str
) -> None:
    env = {**os.environ, **secret_env(), "DATABASE_URL": empty_database_url, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    # What infra/stack.py hands every process; each service reads only its own part.
    env |= {
        "PUBLIC_BASE_URL": "http://127.0.0.1:1",
        "PUBLIC_PORT": str(free_port()),
        "CONNECTOR_AUTH_URL": "http://127.0.0.1:1",
        "SPAPI_ENDPOINT_URL": "http://127.0.0.1:1",
        "SERVICE_TOKEN": secrets.token_urlsafe(24),
        "BUYER_REF_KEY": secrets.token_urlsafe(32),
    }
    migrate = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        "migrate",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(migrate.communicate(), timeout=60)
    assert migrate.returncode == 0, output.decode()

    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        "serve",
        env={**env, "ADMIN_PORT": str(port)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await _readyz_becomes(f"http://127.0.0.1:{port}/readyz", 200)
        assert await _status(f"http://127.0.0.1:{port}/metrics") == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=40)
    assert process.returncode == 0, output.decode()[-3000:]


async def test_a_service_without_database_url_refuses_to_start_and_names_the_variable() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env["KAFKA_BOOTSTRAP_SERVERS"] = "127.0.0.1:1"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "stock_publisher",
        "serve",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 2
    assert b"DATABASE_URL" in output
