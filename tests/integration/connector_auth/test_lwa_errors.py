"""Login with Amazon's refusals told apart: our client credentials (an operator's alert) vs. a seller's revocation."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest
from connector_auth.crypto import generate_key
from prometheus_client import REGISTRY
from spapi_sandbox import SandboxConfig
from spapi_sandbox import running as sandbox_running
from testkit.sandbox import DEFAULT_SELLER_ID, Sandbox

from .harness import Running, approve_on_consent_page, page_message, running, secret_env

CLIENT_ID = secret_env()["LWA_CLIENT_ID"]
GOOD_SECRET = "lwa-secret-" + secrets.token_urlsafe(24)


@pytest.fixture
def strict_sandbox() -> Iterator[str]:
    """A sandbox of this test's own that checks our LWA client id and secret, as Amazon does."""
    with sandbox_running(SandboxConfig(speedup=100.0, lwa_client_id=CLIENT_ID, lwa_client_secret=GOOD_SECRET)) as url:
        yield url


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def _token(svc: Running, connection_id: str) -> tuple[int, dict[str, object]]:
    async with svc.as_service() as client:
        answer = await client.post(f"/internal/connections/{connection_id}/access-token")
    return answer.status_code, answer.json()


async def test_a_rejected_client_secret_alerts_the_operator_and_revokes_no_seller(
    database_url: str, kafka_bootstrap: str, namespace: str, strict_sandbox: str
) -> None:
    keys = f"k1:{generate_key()}"
    common = {"database_url": database_url, "kafka_bootstrap": kafka_bootstrap, "namespace": namespace}
    async with running(
        sandbox_url=strict_sandbox, **common, LWA_CLIENT_SECRET=GOOD_SECRET, TOKEN_ENCRYPTION_KEYS=keys
    ) as good:
        connection = await good.connect()
        assert (await _token(good, connection["id"]))[0] == 200
    assert _sample("connector_auth_lwa_client_credentials_rejected") == 0

    # The secret expired (or was rotated at Amazon and not here): every grant now fails with invalid_client.
    rejected_before = _sample("connector_auth_lwa_client_rejected_total", grant="refresh_token")
    async with running(
        sandbox_url=strict_sandbox, **common, LWA_CLIENT_SECRET="expired-" + GOOD_SECRET, TOKEN_ENCRYPTION_KEYS=keys
    ) as expired:
        status, problem = await _token(expired, connection["id"])
        assert status == 503, problem
        assert problem["kind"] == "client_rejected"
        assert "LWA_CLIENT_SECRET" in str(problem["detail"]) and "authorize again" not in str(problem["detail"])
        assert _sample("connector_auth_lwa_client_rejected_total", grant="refresh_token") == rejected_before + 1
        assert _sample("connector_auth_lwa_client_credentials_rejected") == 1

        async with expired.admin("operator") as operator:
            report = (await operator.post(f"/admin/connections/{connection['id']}/test")).json()
        assert report["ok"] is False
        assert "client credentials" in report["error"] and "authorize again" not in report["error"]

        # A consent in progress is not blamed on the seller either.
        with httpx.Client(base_url=strict_sandbox) as admin:
            other = Sandbox(strict_sandbox, admin).create_seller(["ATVPDKIKX0DER"])["selling_partner_id"]
        second = await expired.create(name="second")
        async with expired.browser() as browser:
            page = await browser.get(second["consent_url"])
            landed = await approve_on_consent_page(browser, page, other)
        assert landed.status_code == 502
        assert "credentials, not your consent" in page_message(landed)
        assert _sample("connector_auth_lwa_client_rejected_total", grant="authorization_code") >= 1

        # Nothing about the seller changed: still active, still holding its consent.
        still = await expired.connection(connection["id"])
        assert (still["status"], still["selling_partner_id"]) == ("active", DEFAULT_SELLER_ID)
        assert await expired.stored(connection["id"]) == {"refresh_tokens": 1, "authorized": 1}

    # The secret is fixed: the same stored consent works again and the alert clears.
    async with running(
        sandbox_url=strict_sandbox, **common, LWA_CLIENT_SECRET=GOOD_SECRET, TOKEN_ENCRYPTION_KEYS=keys
    ) as fixed:
        assert (await _token(fixed, connection["id"]))[0] == 200
    assert _sample("connector_auth_lwa_client_credentials_rejected") == 0


async def test_a_revoked_consent_is_the_sellers_and_says_authorize_again(svc: Running, sandbox: Sandbox) -> None:
    connection = await svc.connect()
    sandbox.fault(token="revoked", seller_id=sandbox.seller_id)
    client_rejections = _sample("connector_auth_lwa_client_rejected_total", grant="refresh_token")
    status, problem = await _token(svc, connection["id"])
    assert status == 409, problem
    assert problem["kind"] == "grant_rejected"
    assert "authorize again" in str(problem["detail"])
    assert _sample("connector_auth_lwa_client_rejected_total", grant="refresh_token") == client_rejections
