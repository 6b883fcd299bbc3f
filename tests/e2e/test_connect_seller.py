"""`python -m connector_auth serve` as a process: an operator connects a seller through the sandbox's consent page."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from connector_auth.crypto import generate_key
from contracts import decode, kafka_topics, tombstone
from messaging import KafkaSettings, kafka_producer
from testkit import eventually, read_topic
from testkit.sandbox import Sandbox

from .private_infra import free_port

TOPIC = "connection.updated"


def secret_env() -> dict[str, str]:
    return {
        "ADMIN_TOKENS": ",".join(f"e2e-{r}:{r}:{secrets.token_urlsafe(24)}" for r in ("viewer", "operator", "admin")),
        "SERVICE_TOKENS": f"orders-ingest:{secrets.token_urlsafe(24)}",
        "TOKEN_ENCRYPTION_KEYS": f"e2e:{generate_key()}",
        "PII_ENCRYPTION_KEYS": f"e2e-pii:{generate_key()}",
        "STATE_SIGNING_KEY": secrets.token_urlsafe(32),
        "LWA_CLIENT_ID": "amzn1.application-oa2-client.e2e",
        "LWA_CLIENT_SECRET": secrets.token_urlsafe(24),
        "SPAPI_APPLICATION_ID": "amzn1.sp.solution.e2e",
    }


def token_of(spec: str, role_or_service: str) -> str:
    for entry in spec.split(","):
        parts = entry.split(":")
        if role_or_service in parts[:-1]:
            return parts[-1]
    raise KeyError(role_or_service)


async def ensure_registry_topic(bootstrap: str) -> None:
    """What `make kafka` does (infra/kafka/create_topics.py), for the one topic this test reads."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if TOPIC not in await admin.list_topics():
            spec = next(t for t in kafka_topics() if t.name == TOPIC)
            await admin.create_topics([NewTopic(spec.name, spec.partitions, 1, topic_configs=dict(spec.configs))])
    finally:
        await admin.close()


@dataclass
class Process:
    url: str
    env: dict[str, str]
    process: asyncio.subprocess.Process
    # PUBLIC_BASE_URL: the listener of /setup/* and /oauth/callback alone.
    public_url: str = ""

    def headers(self, who: str) -> dict[str, str]:
        spec = self.env["SERVICE_TOKENS"] if who == "orders-ingest" else self.env["ADMIN_TOKENS"]
        return {"authorization": f"Bearer {token_of(spec, who)}"}


async def _ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            return (await client.get(f"{url}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


@pytest_asyncio.fixture
async def connector_auth(empty_database_url: str, kafka_bootstrap: str, sandbox: Sandbox) -> AsyncIterator[Process]:
    await ensure_registry_topic(kafka_bootstrap)
    port, public_port = free_port(), free_port()
    url, public_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{public_port}"
    env = {
        **os.environ,
        **secret_env(),
        "DATABASE_URL": empty_database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "ADMIN_PORT": str(port),
        "LOG_LEVEL": "DEBUG",
        "PUBLIC_PORT": str(public_port),
        "PUBLIC_BASE_URL": public_url,
        "LWA_TOKEN_URL": f"{sandbox.url}/auth/o2/token",
        "SELLER_CENTRAL_URL": sandbox.url,
        "SPAPI_ENDPOINT_URL": sandbox.url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "connector_auth", "serve", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    running = Process(url, env, process, public_url)
    try:
        await eventually(lambda: _ready(url), timeout=60, interval=0.3)
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=40)
        await forget_connections(empty_database_url, kafka_bootstrap)


async def forget_connections(database_url: str, bootstrap: str) -> None:
    """Tombstones this test's connections on the shared topic, so a running `make up` stack does not poll them."""
    conn = await asyncpg.connect(database_url)
    try:
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM connector_auth.connections")]
    finally:
        await conn.close()
    async with kafka_producer(KafkaSettings(bootstrap_servers=bootstrap)) as producer:
        for connection_id in ids:
            record = tombstone(TOPIC, connection_id)
            await producer.send_and_wait(record.topic, None, key=record.key)


async def test_operator_connects_a_seller_and_services_get_access_tokens(
    connector_auth: Process, kafka_bootstrap: str, sandbox: Sandbox
) -> None:
    async with httpx.AsyncClient(base_url=connector_auth.url, timeout=30) as api:
        created = await api.post(
            "/admin/connections",
            headers=connector_auth.headers("admin"),
            json={"name": "E2E seller", "region": "NA", "marketplace_ids": [sandbox.marketplace_id]},
        )
        assert created.status_code == 201, created.text
        connection_id = created.json()["connection"]["id"]
        consent = urlsplit(created.json()["consent_url"])
        auto = urlunsplit(consent._replace(query=consent.query + "&" + urlencode({"auto_approve": "true"})))

        async with httpx.AsyncClient(follow_redirects=True, timeout=30) as browser:
            landed = await browser.get(auto)
        assert landed.status_code == 200, landed.text
        assert [r.status_code for r in landed.history] == [302]
        assert str(landed.url).startswith(f"{connector_auth.public_url}/oauth/callback?")
        assert parse_qs(urlsplit(str(landed.url)).query)["selling_partner_id"] == [sandbox.seller_id]
        # The internal port serves no public route and the public one nothing else.
        assert (await api.get("/oauth/callback")).status_code == 404
        async with httpx.AsyncClient(base_url=connector_auth.public_url, timeout=30) as public:
            for path in ("/admin/connections", "/metrics", "/docs", "/readyz"):
                assert (await public.get(path, headers=connector_auth.headers("admin"))).status_code == 404, path

        connection = await api.get(f"/admin/connections/{connection_id}", headers=connector_auth.headers("viewer"))
        assert connection.json()["status"] == "active"
        issued = await api.post(
            f"/internal/connections/{connection_id}/access-token", headers=connector_auth.headers("orders-ingest")
        )
        assert issued.status_code == 200, issued.text
        access_token = issued.json()["access_token"]
        tested = await api.post(f"/admin/connections/{connection_id}/test", headers=connector_auth.headers("operator"))
        assert tested.json()["matches"] is True, tested.text
        metrics = (await api.get("/metrics")).text
        assert 'connector_auth_access_tokens_issued_total{service="orders-ingest"} 1.0' in metrics

    async def published() -> list[object] | None:
        records = await read_topic(kafka_bootstrap, TOPIC, expect=1, timeout=5)
        mine = [r for r in records if r.key == connection_id.encode()]
        return mine if len(mine) >= 2 else None

    records = await eventually(published, timeout=30, interval=0.2)
    statuses = [decode(TOPIC, r.value, list(r.headers)).data.status for r in records]  # type: ignore[attr-defined]
    assert statuses == ["pending", "active"]

    connector_auth.process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(connector_auth.process.communicate(), timeout=40)
    assert connector_auth.process.returncode == 0, output.decode()[-3000:]
    logs = output.decode()
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert any(line["msg"] == "seller consent stored" for line in lines)
    for secret in (sandbox.refresh_token, access_token, *(token_of(connector_auth.env[k], k2) for k, k2 in (
        ("ADMIN_TOKENS", "admin"), ("SERVICE_TOKENS", "orders-ingest"))),
        connector_auth.env["LWA_CLIENT_SECRET"], connector_auth.env["STATE_SIGNING_KEY"],
        connector_auth.env["TOKEN_ENCRYPTION_KEYS"].split(":", 1)[1],
    ):  # fmt: skip
        assert secret not in logs
    assert "Atzr|" not in logs and "Atza|" not in logs


@pytest.mark.parametrize("missing", ["TOKEN_ENCRYPTION_KEYS", "LWA_CLIENT_SECRET", "SERVICE_TOKENS"])
async def test_a_missing_secret_stops_the_process_naming_the_variable(missing: str) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k not in secret_env()},
        **secret_env(),
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "PUBLIC_BASE_URL": "http://127.0.0.1:1",
    }
    del env[missing]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "connector_auth", "serve", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2, output.decode()
    assert f"invalid or missing settings: {missing}".encode() in output
