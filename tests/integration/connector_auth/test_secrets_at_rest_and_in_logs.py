"""Secrets stay secret: key rotation re-seals refresh tokens, and no log line carries a token or secret."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from connector_auth.crypto import generate_key
from servicekit.logging import JsonFormatter
from testkit.sandbox import Sandbox

from .harness import Running, auto_approved, page_message, running, with_query


async def test_rotating_the_encryption_key_re_seals_every_refresh_token(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, namespace: str
) -> None:
    old, new = f"old:{generate_key()}", f"new:{generate_key()}"
    where: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap": kafka_bootstrap,
        "sandbox_url": sandbox.url,
        "namespace": namespace,
    }
    async with running(**where, TOKEN_ENCRYPTION_KEYS=old) as svc:
        first = (await svc.connect(name="first"))["id"]
        second = await svc.create(name="second", region="EU", marketplace_ids=["A1PA6795UKMFR9"])
        eu_seller = sandbox.create_seller(["A1PA6795UKMFR9"])["selling_partner_id"]
        async with svc.browser() as browser:
            url = with_query(auto_approved(second["consent_url"]), selling_partner_id=eu_seller)
            assert (await browser.get(url)).status_code == 200

    # Step 1 of the runbook: the new key goes first, the old one stays to decrypt.
    async with running(**where, TOKEN_ENCRYPTION_KEYS=f"{new},{old}") as svc:
        async with svc.as_service() as client:
            assert (await client.post(f"/internal/connections/{first}/access-token")).status_code == 200
        async with svc.admin() as admin:
            report = (await admin.post("/admin/refresh-tokens/re-encrypt")).json()
            again = (await admin.post("/admin/refresh-tokens/re-encrypt")).json()
    assert report["re_encrypted"] == 2 and report["refresh_tokens_by_key_id"] == {"new": 2}
    assert again["re_encrypted"] == 0

    # Step 2: the old key is removed; every connection still works.
    async with running(**where, TOKEN_ENCRYPTION_KEYS=new) as svc, svc.as_service() as client:
        for connection_id in (first, second["connection"]["id"]):
            answer = await client.post(f"/internal/connections/{connection_id}/access-token")
            assert answer.status_code == 200, answer.text


async def test_a_ciphertext_moved_to_another_connection_does_not_decrypt(svc: Running, sandbox: Sandbox) -> None:
    first = (await svc.connect(name="first"))["id"]
    other_seller = sandbox.create_seller(["ATVPDKIKX0DER"])["selling_partner_id"]
    second = await svc.create(name="second")
    async with svc.browser() as browser:
        landed = await browser.get(with_query(auto_approved(second["consent_url"]), selling_partner_id=other_seller))
        assert landed.status_code == 200, page_message(landed)
    conn = await svc.db()
    try:
        # Someone with database access copies the first seller's sealed token onto the second connection.
        await conn.execute(
            "UPDATE refresh_tokens SET key_id = f.key_id, nonce = f.nonce, ciphertext = f.ciphertext"
            " FROM refresh_tokens f WHERE f.connection_id = $1 AND refresh_tokens.connection_id = $2",
            first,
            second["connection"]["id"],
        )
    finally:
        await conn.close()
    async with svc.as_service() as client:
        swapped = await client.post(f"/internal/connections/{second['connection']['id']}/access-token")
        untouched = await client.post(f"/internal/connections/{first}/access-token")
    assert swapped.status_code == 500
    assert "Atz" not in swapped.text
    assert untouched.status_code == 200


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    # As servicekit.configure_logging and connector_auth.main set them in the service process.
    for noisy in ("httpx", "httpcore", "aiokafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return caplog


async def test_logs_of_a_whole_flow_hold_no_token_or_secret(
    captured: pytest.LogCaptureFixture, svc: Running, sandbox: Sandbox
) -> None:
    created = await svc.create()
    connection_id = created["connection"]["id"]
    async with svc.browser() as browser:
        callback = await browser.get(auto_approved(created["consent_url"]))
        replayed = await browser.get(str(callback.url))
        assert replayed.status_code == 400
    async with svc.as_service() as client:
        token = (await client.post(f"/internal/connections/{connection_id}/access-token")).json()["access_token"]
        await client.post(f"/internal/connections/{connection_id}/access-token", headers={"authorization": "Bearer x"})
    async with svc.admin() as admin:
        link = (await admin.post(f"/admin/connections/{connection_id}/setup-link")).json()["url"]
        await admin.post(f"/admin/connections/{connection_id}/test")
        await admin.post(f"/admin/connections/{connection_id}/disconnect")

    formatter = JsonFormatter("connector-auth")
    logs = "\n".join(formatter.format(r) for r in captured.records)
    assert "seller consent stored" in logs and "oauth callback refused" in logs  # the flow was logged at all
    state = created["consent_url"].split("state=", 1)[1].split("&", 1)[0]
    code = str(callback.url).split("spapi_oauth_code=", 1)[1].split("&", 1)[0]
    secrets = {
        "refresh token": sandbox.refresh_token,
        "access token": token,
        "authorization code": code,
        "state": state,
        "setup link": link.rsplit("/", 1)[1],
        **{name: value for name, value in svc.secrets.items() if name != "SPAPI_APPLICATION_ID"},
    }
    for name, value in secrets.items():
        for part in value.split(","):
            assert part.split(":")[-1] not in logs, name
    assert "Atzr|" not in logs and "Atza|" not in logs
