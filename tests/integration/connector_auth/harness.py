"""connector-auth running in the test's event loop: real PostgreSQL, Kafka, sandbox and real HTTP ports.

Both listeners are real sockets, as in production: the admin app (`base_url`: /admin, /internal, /metrics)
and the public app (`public_url` = PUBLIC_BASE_URL: /setup/*, /oauth/callback), so the sandbox's consent page
redirects a real HTTP client back to the public one. The clock is the wall clock plus an offset a test may
move forward.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import asyncpg
import httpx
import uvicorn
from connector_auth import bootstrap
from connector_auth.crypto import generate_key
from connector_auth.settings import Settings
from messaging import namespaced
from testkit import eventually, read_topic

ADMIN_TOKENS = {role: f"{role}-token-{secrets.token_urlsafe(16)}" for role in ("viewer", "operator", "admin")}
SERVICE_TOKENS = {name: f"{name}-{secrets.token_urlsafe(16)}" for name in ("orders-ingest", "stock-publisher")}


@dataclass
class Clock:
    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, by: timedelta) -> None:
        self.offset += by


def secret_env(**overrides: str) -> dict[str, str]:
    """The secrets a connector-auth process needs, freshly generated."""
    return {
        "ADMIN_TOKENS": ",".join(f"{role}-user:{role}:{token}" for role, token in ADMIN_TOKENS.items()),
        "SERVICE_TOKENS": ",".join(f"{name}:{token}" for name, token in SERVICE_TOKENS.items()),
        "TOKEN_ENCRYPTION_KEYS": f"k1:{generate_key()}",
        "STATE_SIGNING_KEY": secrets.token_urlsafe(32),
        "LWA_CLIENT_ID": "amzn1.application-oa2-client.test",
        "LWA_CLIENT_SECRET": "lwa-secret-" + secrets.token_urlsafe(24),
        "SPAPI_APPLICATION_ID": "amzn1.sp.solution.test",
        **overrides,
    }


@dataclass
class Running:
    base_url: str
    service: bootstrap.Service
    settings: Settings
    clock: Clock
    topic: str
    kafka_bootstrap: str
    database_url: str
    secrets: dict[str, str] = field(default_factory=dict)
    public_url: str = ""

    @property
    def deps(self) -> Any:
        return self.service.deps

    def admin(self, role: str = "admin") -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url, headers={"authorization": f"Bearer {ADMIN_TOKENS[role]}"}, timeout=30
        )

    def as_service(self, name: str = "orders-ingest") -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url, headers={"authorization": f"Bearer {SERVICE_TOKENS[name]}"}, timeout=30
        )

    @staticmethod
    def browser() -> httpx.AsyncClient:
        """A client that follows redirects and keeps cookies, as a seller's browser does."""
        return httpx.AsyncClient(follow_redirects=True, timeout=30)

    async def create(self, **body: Any) -> dict[str, Any]:
        payload = {"name": "ACME US", "region": "NA", "marketplace_ids": ["ATVPDKIKX0DER"], **body}
        async with self.admin() as client:
            response = await client.post("/admin/connections", json=payload)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def connect(self, **body: Any) -> dict[str, Any]:
        """Create a connection and consent through the sandbox's page (auto-approved); returns the connection."""
        created = await self.create(**body)
        async with self.browser() as browser:
            landed = await browser.get(auto_approved(created["consent_url"]))
        assert landed.status_code == 200, landed.text
        return await self.connection(created["connection"]["id"])

    async def connection(self, connection_id: str) -> dict[str, Any]:
        async with self.admin("viewer") as client:
            response = await client.get(f"/admin/connections/{connection_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def db(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.database_url, server_settings={"search_path": "connector_auth"})

    async def stored(self, connection_id: str) -> dict[str, int]:
        """How many rows of each kind of consent data a connection has."""
        conn = await self.db()
        try:
            return {
                "refresh_tokens": await conn.fetchval(
                    "SELECT count(*) FROM refresh_tokens WHERE connection_id = $1", connection_id
                ),
                "authorized": await conn.fetchval(
                    "SELECT count(*) FROM connections WHERE id = $1 AND authorized_at IS NOT NULL", connection_id
                ),
            }
        finally:
            await conn.close()

    async def events(self, connection_id: str, *, at_least: int) -> list[Any]:
        """The connection's records on the test's connection.updated topic, oldest first."""

        async def probe() -> list[Any] | None:
            records = await read_topic(self.kafka_bootstrap, self.topic, expect=at_least, timeout=5)
            mine = [r for r in records if r.key == connection_id.encode()]
            return mine if len(mine) >= at_least else None

        found: list[Any] = await eventually(probe, timeout=30, interval=0.2)
        return found


def auto_approved(consent_url: str) -> str:
    """The sandbox's test switch on its consent page: approve at once as the default seller."""
    return with_query(consent_url, auto_approve="true")


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()} | params
    return urlunsplit(parts._replace(query=urlencode(query)))


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")


async def approve_on_consent_page(browser: httpx.AsyncClient, page: httpx.Response, seller_id: str) -> httpx.Response:
    """What a seller does on Seller Central's consent page: pick the account and press Approve."""
    assert page.status_code == 200 and "Approve" in page.text, page.text
    form = _Form()
    form.feed(page.text)
    action = str(page.url.join(form.action))
    return await browser.post(action, data={**form.fields, "selling_partner_id": seller_id, "decision": "approve"})


def free_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.asynccontextmanager
async def running(
    *,
    database_url: str,
    kafka_bootstrap: str,
    sandbox_url: str,
    namespace: str,
    clock: Clock | None = None,
    sandbox_consent_page: bool = True,
    settings_fields: dict[str, Any] | None = None,
    **overrides: str,
) -> AsyncIterator[Running]:
    sock, public_sock = free_socket(), free_socket()
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    public_url = f"http://127.0.0.1:{public_sock.getsockname()[1]}"
    env = secret_env(**overrides)
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_namespace=namespace,
        admin_tokens=env["ADMIN_TOKENS"],
        service_tokens=env["SERVICE_TOKENS"],
        token_encryption_keys=env["TOKEN_ENCRYPTION_KEYS"],
        state_signing_key=env["STATE_SIGNING_KEY"],
        lwa_client_id=env["LWA_CLIENT_ID"],
        lwa_client_secret=env["LWA_CLIENT_SECRET"],
        spapi_application_id=env["SPAPI_APPLICATION_ID"],
        public_base_url=public_url,
        public_port=public_sock.getsockname()[1],
        lwa_token_url=f"{sandbox_url}/auth/o2/token",
        seller_central_url=sandbox_url if sandbox_consent_page else None,
        spapi_endpoint_url=sandbox_url,
        client_secret_rotated_at=env.get("CLIENT_SECRET_ROTATED_AT"),
        **(settings_fields or {}),
    )
    clock = clock or Clock()
    topic = namespaced(namespace, "connection.updated")
    async with bootstrap.build(settings, clock=clock) as service:
        (public,) = service.listeners
        servers = [_server(service.app), _server(public.app)]
        https = [
            asyncio.create_task(server.serve(sockets=[s]))
            for server, s in zip(servers, (sock, public_sock), strict=True)
        ]
        relay = asyncio.create_task(service.workers[0].run())
        for server in servers:
            await eventually(_started(server), timeout=10, interval=0.01)
        try:
            yield Running(
                base_url, service, settings, clock, topic, kafka_bootstrap, database_url, env, public_url=public_url
            )
        finally:
            await service.workers[0].stop()
            await relay
            for server in servers:
                server.should_exit = True
            await asyncio.gather(*https)
            sock.close()
            public_sock.close()


def _server(app: Any) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", log_level="warning"))


def _started(server: uvicorn.Server) -> Any:
    async def probe() -> bool:
        return bool(server.started)

    return probe


def texts_of(rows: list[asyncpg.Record]) -> str:
    return json.dumps([{k: (v.hex() if isinstance(v, bytes) else str(v)) for k, v in dict(r).items()} for r in rows])


def page_message(response: httpx.Response) -> str:
    match = re.search(r"<p>(.*?)</p>", response.text, re.S)
    return match.group(1) if match else response.text
