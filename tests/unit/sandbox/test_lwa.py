"""Login with Amazon grants and the x-amz-access-token check every SP-API call makes."""

from __future__ import annotations

import httpx
import pytest
from spapi_sandbox.errors import ApiError
from spapi_sandbox.lwa import OAuthError, Tokens
from spapi_sandbox.state import DEFAULT_REFRESH_TOKEN, DEFAULT_SELLER_ID

SELLERS = {DEFAULT_SELLER_ID}
CLIENT = {"client_id": "amzn1.application-oa2-client.x", "client_secret": "s3cret"}


def test_code_is_exchanged_once_for_a_working_token() -> None:
    tokens = Tokens(3600, None, None)
    code = tokens.issue_code(DEFAULT_SELLER_ID, "https://app.example/cb")
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "https://app.example/cb", **CLIENT}
    answer = tokens.grant(form, SELLERS)
    assert answer["token_type"] == "bearer" and answer["expires_in"] == 3600
    assert answer["access_token"].startswith("Atza|") and answer["refresh_token"].startswith("Atzr|")
    assert tokens.seller_for(answer["access_token"]) == DEFAULT_SELLER_ID
    with pytest.raises(OAuthError) as reused:
        tokens.grant(form, SELLERS)
    assert reused.value.error == "invalid_grant"


def test_redirect_uri_must_match_the_consent() -> None:
    tokens = Tokens(3600, None, None)
    code = tokens.issue_code(DEFAULT_SELLER_ID, "https://app.example/cb")
    with pytest.raises(OAuthError):
        tokens.grant(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": "https://evil/cb", **CLIENT}, SELLERS
        )


def test_configured_client_credentials_are_enforced() -> None:
    tokens = Tokens(3600, CLIENT["client_id"], CLIENT["client_secret"])
    form = {"grant_type": "refresh_token", "refresh_token": DEFAULT_REFRESH_TOKEN}
    with pytest.raises(OAuthError) as wrong:
        tokens.grant({**form, "client_id": CLIENT["client_id"], "client_secret": "guess"}, SELLERS)
    assert (wrong.value.status, wrong.value.error) == (401, "invalid_client")
    assert tokens.grant({**form, **CLIENT}, SELLERS)["access_token"]


def test_expired_and_revoked_tokens_are_refused_like_amazon() -> None:
    tokens = Tokens(3600, None, None)
    access = tokens.grant({"grant_type": "refresh_token", "refresh_token": DEFAULT_REFRESH_TOKEN, **CLIENT}, SELLERS)[
        "access_token"
    ]
    tokens.expire_all()
    with pytest.raises(ApiError) as expired:
        tokens.seller_for(access)
    assert expired.value.status == 403
    assert expired.value.body()["errors"][0]["details"] == "The access token you provided has expired."
    fresh = tokens.grant({"grant_type": "refresh_token", "refresh_token": DEFAULT_REFRESH_TOKEN, **CLIENT}, SELLERS)[
        "access_token"
    ]
    assert tokens.seller_for(fresh) == DEFAULT_SELLER_ID
    tokens.revoke(DEFAULT_SELLER_ID)
    with pytest.raises(ApiError, match="Unauthorized"):
        tokens.seller_for(fresh)
    with pytest.raises(OAuthError):
        tokens.grant({"grant_type": "refresh_token", "refresh_token": DEFAULT_REFRESH_TOKEN, **CLIENT}, SELLERS)


def test_grantless_tokens_cannot_act_for_a_seller() -> None:
    tokens = Tokens(3600, None, None)
    answer = tokens.grant(
        {"grant_type": "client_credentials", "scope": "sellingpartnerapi::notifications", **CLIENT}, SELLERS
    )
    with pytest.raises(ApiError):
        tokens.seller_for(answer["access_token"])


async def test_calls_without_a_sandbox_token_get_403(api: httpx.AsyncClient) -> None:
    for header in ({"x-amz-access-token": ""}, {"x-amz-access-token": "Atza|forged"}):
        response = await api.get("/sellers/v1/marketplaceParticipations", headers=header)
        assert response.status_code == 403
        assert response.json()["errors"][0]["code"] == "Unauthorized"
        assert "x-amzn-RateLimit-Limit" not in response.headers


async def test_token_endpoint_speaks_form_encoding(api: httpx.AsyncClient) -> None:
    bad = await api.post("/auth/o2/token", data={"grant_type": "password", **CLIENT})
    assert bad.status_code == 400 and bad.json()["error"] == "unsupported_grant_type"
    missing = await api.post("/auth/o2/token", data={"grant_type": "refresh_token", "refresh_token": "Atzr|x"})
    assert missing.json()["error"] == "invalid_request"
