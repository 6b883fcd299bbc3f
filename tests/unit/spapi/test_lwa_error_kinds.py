"""LWA's refusals carry who must act: our client credentials, the seller's grant, or nobody (retry)."""

from __future__ import annotations

import httpx
import pytest
import spapi
from spapi import (
    AuthErrorKind,
    ConnectorAuthTokenSource,
    LwaClient,
    LwaClientRejected,
    LwaCredentials,
    LwaGrantRejected,
)
from spapi_fakes import Recorder

SECRET = "unit-client-secret-do-not-log"


def lwa(recorder: Recorder) -> LwaClient:
    return LwaClient(
        httpx.AsyncClient(transport=httpx.MockTransport(recorder)),
        LwaCredentials(client_id="amzn1.application-oa2-client.unit", client_secret=SECRET),
        token_url="http://127.0.0.1:9/auth/o2/token",
        retry=spapi.RetryPolicy(max_attempts=1),
    )


def refusal(status: int, code: str | None) -> httpx.Response:
    body = {"error": code, "error_description": f"refused {SECRET}"} if code else {}
    return httpx.Response(status, json=body)


@pytest.mark.parametrize(
    ("status", "code", "error", "kind"),
    [
        (401, "invalid_client", LwaClientRejected, AuthErrorKind.CLIENT_REJECTED),
        (400, "unauthorized_client", LwaClientRejected, AuthErrorKind.CLIENT_REJECTED),
        (401, None, LwaClientRejected, AuthErrorKind.CLIENT_REJECTED),
        (400, "invalid_grant", LwaGrantRejected, AuthErrorKind.GRANT_REJECTED),
        (400, "invalid_request", spapi.AuthError, AuthErrorKind.FAILED),
        (429, None, spapi.AuthError, AuthErrorKind.FAILED),
        (503, None, spapi.AuthError, AuthErrorKind.FAILED),
    ],
)
async def test_each_refusal_has_its_kind(status: int, code: str | None, error: type, kind: AuthErrorKind) -> None:
    with pytest.raises(spapi.AuthError) as raised:
        await lwa(Recorder([refusal(status, code)])).refresh("Atzr|unit")
    assert type(raised.value) is error
    assert raised.value.kind is kind
    assert raised.value.retryable is (kind is AuthErrorKind.FAILED)
    assert raised.value.status == status
    assert SECRET not in str(raised.value)


async def test_a_seller_revocation_is_never_read_as_our_credentials_and_back() -> None:
    for code, other in (("invalid_grant", LwaClientRejected), ("invalid_client", LwaGrantRejected)):
        with pytest.raises(spapi.AuthError) as raised:
            await lwa(Recorder([refusal(400, code)])).exchange_authorization_code("ANcode")
        assert not isinstance(raised.value, other)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"status": 503, "kind": "client_rejected"}, AuthErrorKind.CLIENT_REJECTED),
        ({"status": 409, "kind": "grant_rejected"}, AuthErrorKind.GRANT_REJECTED),
        ({"status": 409}, AuthErrorKind.FAILED),
        ({"status": 409, "kind": "something else"}, AuthErrorKind.FAILED),
    ],
)
async def test_connector_auths_verdict_reaches_the_calling_service(
    body: dict[str, object], kind: AuthErrorKind
) -> None:
    recorder = Recorder([httpx.Response(int(str(body["status"])), json=body)])
    source = ConnectorAuthTokenSource(
        httpx.AsyncClient(transport=httpx.MockTransport(recorder)),
        "http://connector-auth",
        "conn-0123456789abcdef",
        "service-token-0123456789",
        retry=spapi.RetryPolicy(max_attempts=1),
    )
    with pytest.raises(spapi.AuthError) as raised:
        await source.access_token()
    assert raised.value.kind is kind
