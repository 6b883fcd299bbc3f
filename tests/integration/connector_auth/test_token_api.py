"""The internal token API: service auth, one refresh for many concurrent callers, renewal, audit."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
from connector_auth.access_tokens import REFRESHES
from testkit.sandbox import Sandbox

from .harness import Running, texts_of


def _refreshes() -> float:
    return REFRESHES.labels("ok")._value.get()


async def test_concurrent_requests_share_one_refresh_at_the_sandbox(svc: Running, sandbox: Sandbox) -> None:
    connection = await svc.connect()
    url = f"/internal/connections/{connection['id']}/access-token"
    before = _refreshes()
    async with svc.as_service("orders-ingest") as client:
        answers = await asyncio.gather(*(client.post(url) for _ in range(25)))

    assert {a.status_code for a in answers} == {200}
    # Every grant at the sandbox mints a new random token: one distinct token means one grant.
    tokens = {a.json()["access_token"] for a in answers}
    assert len(tokens) == 1
    assert _refreshes() - before == 1
    token = tokens.pop()
    assert token.startswith("Atza|")
    assert answers[0].headers["cache-control"] == "no-store"
    assert datetime.fromisoformat(answers[0].json()["expires_at"]) > svc.clock()
    # The sandbox accepts it for this seller.
    async with httpx.AsyncClient() as amazon:
        participations = await amazon.get(
            f"{sandbox.url}/sellers/v1/marketplaceParticipations", headers={"x-amz-access-token": token}
        )
    assert participations.status_code == 200, participations.text


async def test_every_issuance_is_audited_with_the_service_and_never_the_token(svc: Running) -> None:
    connection = await svc.connect()
    url = f"/internal/connections/{connection['id']}/access-token"
    async with svc.as_service("orders-ingest") as orders, svc.as_service("stock-publisher") as stock:
        token = (await orders.post(url)).json()["access_token"]
        await stock.post(url)
        await stock.post(url)

    conn = await svc.db()
    try:
        rows = await conn.fetch(
            "SELECT * FROM audit_log WHERE action = 'access_token.issued' AND connection_id = $1 ORDER BY id",
            connection["id"],
        )
        everything = texts_of(await conn.fetch("SELECT * FROM audit_log"))
    finally:
        await conn.close()
    assert [(r["actor"], r["actor_kind"]) for r in rows] == [
        ("orders-ingest", "service"),
        ("stock-publisher", "service"),
        ("stock-publisher", "service"),
    ]
    assert all(r["at"] is not None for r in rows)
    assert token not in everything


async def test_the_token_is_renewed_ahead_of_its_expiry(svc: Running) -> None:
    connection = await svc.connect()
    url = f"/internal/connections/{connection['id']}/access-token"
    async with svc.as_service() as client:
        first = (await client.post(url)).json()
        again = (await client.post(url)).json()
        # Sandbox tokens live an hour; renewal is due 5 minutes before the end.
        svc.clock.advance(timedelta(minutes=55, seconds=1))
        renewed = (await client.post(url)).json()

    assert again["access_token"] == first["access_token"]
    assert renewed["access_token"] != first["access_token"]
    assert datetime.fromisoformat(renewed["expires_at"]) > datetime.fromisoformat(first["expires_at"])


async def test_callers_without_a_valid_service_token_are_refused(svc: Running) -> None:
    connection = await svc.connect()
    url = f"{svc.base_url}/internal/connections/{connection['id']}/access-token"
    async with httpx.AsyncClient() as client:
        missing = await client.post(url)
        wrong = await client.post(url, headers={"authorization": "Bearer not-a-service-token-at-all"})
    async with svc.admin("admin") as admin:
        admin_token = await admin.post(url)
    assert [missing.status_code, wrong.status_code, admin_token.status_code] == [401, 401, 401]
    assert "access_token" not in missing.text + wrong.text + admin_token.text


async def test_only_active_connections_get_tokens(svc: Running) -> None:
    pending = (await svc.create(name="pending"))["connection"]
    active = await svc.connect(name="active")
    async with svc.as_service() as client, svc.admin("operator") as operator:
        refused_pending = await client.post(f"/internal/connections/{pending['id']}/access-token")
        await operator.post(f"/admin/connections/{active['id']}/disable")
        refused_disabled = await client.post(f"/internal/connections/{active['id']}/access-token")
        await operator.post(f"/admin/connections/{active['id']}/enable")
        allowed = await client.post(f"/internal/connections/{active['id']}/access-token")
        unknown = await client.post("/internal/connections/conn-0000000000000000/access-token")
        malformed = await client.post("/internal/connections/conn-nope/access-token")

    assert refused_pending.status_code == 409 and "pending" in refused_pending.json()["detail"]
    assert refused_disabled.status_code == 409 and "disabled" in refused_disabled.json()["detail"]
    assert allowed.status_code == 200
    assert unknown.status_code == 404
    assert malformed.status_code == 422 and "conn-nope" not in malformed.text


async def test_a_seller_who_revoked_consent_gets_a_clear_refusal(svc: Running, sandbox: Sandbox) -> None:
    connection = await svc.connect()
    sandbox.fault(token="revoked", seller_id=sandbox.seller_id)
    async with svc.as_service() as client, svc.admin("operator") as operator:
        answer = await client.post(f"/internal/connections/{connection['id']}/access-token")
        tested = await operator.post(f"/admin/connections/{connection['id']}/test")
    assert answer.status_code == 409
    assert "authorize again" in answer.json()["detail"]
    assert tested.status_code == 200
    assert tested.json()["ok"] is False and "authorize again" in tested.json()["error"]
