"""Tokens, secrets and buyer PII never reach exception messages, reprs or logs."""

from __future__ import annotations

import logging

import httpx
import pytest
import spapi
from spapi import LwaClient, LwaCredentials, LwaTokenSource
from spapi_fakes import ACCESS_TOKEN, Recorder, amazon_error

CLIENT_SECRET = "unit-client-secret-do-not-log"
REFRESH_TOKEN = "Atzr|unit-refresh-token-do-not-log"
SECRETS = (ACCESS_TOKEN, CLIENT_SECRET, REFRESH_TOKEN)


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def all_log_text(caplog: pytest.LogCaptureFixture) -> str:
    # Structured fields go in `extra`, so look at every attribute of every record, not just the message.
    return "\n".join(f"{r.getMessage()} {r.__dict__!r}" for r in caplog.records)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500, 503])
async def test_errors_and_logs_never_contain_the_access_token(make_client, caplog, status):
    caplog.set_level(logging.DEBUG)
    # A hostile or buggy server echoing the token back must not get it into our messages.
    echo = amazon_error(status, "InvalidInput", f"bad token {ACCESS_TOKEN}")
    h = make_client(default=echo)
    with pytest.raises(spapi.SpApiError) as caught:
        await h.client.orders.get_order("1")
    assert_clean(str(caught.value))
    assert_clean(repr(caught.value.errors))
    assert caplog.records, "the failure should have been logged"
    assert_clean(all_log_text(caplog))
    assert_clean(repr(h.client))


async def test_lwa_failure_never_reveals_the_refresh_token_or_client_secret(caplog):
    caplog.set_level(logging.DEBUG)
    echo = httpx.Response(
        400, json={"error": "invalid_grant", "error_description": f"bad {REFRESH_TOKEN} for {CLIENT_SECRET}"}
    )
    recorder = Recorder([echo])
    lwa = LwaClient(
        httpx.AsyncClient(transport=httpx.MockTransport(recorder)),
        LwaCredentials(client_id="id", client_secret=CLIENT_SECRET),
        token_url="http://lwa/auth/o2/token",
    )
    source = LwaTokenSource(lwa, REFRESH_TOKEN)
    with pytest.raises(spapi.AuthError) as caught:
        await source.access_token()
    assert_clean(str(caught.value))
    assert_clean(repr(caught.value))
    assert_clean(all_log_text(caplog))
    assert_clean(repr(source))
    assert_clean(repr(lwa._credentials))


async def test_successful_grant_logs_nothing_secret(caplog):
    caplog.set_level(logging.DEBUG)
    recorder = Recorder(
        [httpx.Response(200, json={"access_token": ACCESS_TOKEN, "expires_in": 3600, "refresh_token": REFRESH_TOKEN})]
    )
    lwa = LwaClient(
        httpx.AsyncClient(transport=httpx.MockTransport(recorder)),
        LwaCredentials(client_id="id", client_secret=CLIENT_SECRET),
        token_url="http://lwa/auth/o2/token",
    )
    tokens = await lwa.exchange_authorization_code("code")
    assert_clean(repr(tokens))
    assert_clean(str(tokens))
    assert_clean(all_log_text(caplog))


def test_order_repr_hides_buyer_pii():
    order = spapi.Order.model_validate(
        {
            "orderId": "1",
            "createdTime": "2026-01-01T00:00:00Z",
            "lastUpdatedTime": "2026-01-01T00:00:00Z",
            "salesChannel": {"channelName": "AMAZON"},
            "orderItems": [],
            "buyer": {"buyerName": "Jane Buyer", "buyerEmail": "jane@marketplace.amazon.com"},
            "recipient": {
                "deliveryAddress": {"name": "Jane Buyer", "addressLine1": "1 Secret Lane", "phone": "555-0100"}
            },
        }
    )
    text = repr(order) + str(order) + repr(order.buyer) + repr(order.recipient)
    for pii in ("Jane Buyer", "jane@marketplace", "1 Secret Lane", "555-0100"):
        assert pii not in text
    assert order.buyer is not None and order.buyer.buyer_name == "Jane Buyer"
