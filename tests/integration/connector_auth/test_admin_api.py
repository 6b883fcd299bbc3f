"""Admin REST: roles, validation messages naming the field, lifecycle, test connection."""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import httpx
import pytest
import spapi
from connector_auth import connections

from .harness import ADMIN_TOKENS, Running

# (method, path template, minimum role, body)
ENDPOINTS: list[tuple[str, str, str, Any]] = [
    ("GET", "/admin/connections", "viewer", None),
    ("GET", "/admin/connections/{id}", "viewer", None),
    ("GET", "/admin/connections/{id}/audit", "viewer", None),
    ("GET", "/admin/deadlines", "viewer", None),
    ("PATCH", "/admin/connections/{id}/settings", "operator", {"handling_time_days": 3}),
    ("POST", "/admin/connections/{id}/disable", "operator", None),
    ("POST", "/admin/connections/{id}/test", "operator", None),
    ("POST", "/admin/connections", "admin", {"name": "x", "region": "NA", "marketplace_ids": ["ATVPDKIKX0DER"]}),
    ("POST", "/admin/connections/{id}/setup-link", "admin", None),
    ("POST", "/admin/connections/{id}/authorize", "admin", None),
    ("POST", "/admin/connections/{id}/disconnect", "admin", None),
    ("POST", "/admin/refresh-tokens/re-encrypt", "admin", None),
]
ROLES = ["viewer", "operator", "admin"]


@pytest.mark.parametrize(("method", "path", "minimum", "body"), ENDPOINTS, ids=[f"{m} {p}" for m, p, *_ in ENDPOINTS])
async def test_admin_endpoints_refuse_missing_wrong_and_too_low_tokens(
    svc: Running, method: str, path: str, minimum: str, body: Any
) -> None:
    connection_id = (await svc.create())["connection"]["id"]
    url = svc.base_url + path.format(id=connection_id)
    async with httpx.AsyncClient(timeout=30) as client:
        missing = await client.request(method, url, json=body)
        wrong = await client.request(method, url, json=body, headers={"authorization": "Bearer wrong-token-0123456789"})
        not_bearer = await client.request(method, url, json=body, headers={"authorization": ADMIN_TOKENS["admin"]})
        assert [missing.status_code, wrong.status_code, not_bearer.status_code] == [401, 401, 401]
        for role in ROLES[: ROLES.index(minimum)]:
            low = await client.request(
                method, url, json=body, headers={"authorization": f"Bearer {ADMIN_TOKENS[role]}"}
            )
            assert low.status_code == 403, role
            assert f"{minimum} is needed" in low.json()["detail"]
        allowed = await client.request(
            method, url, json=body, headers={"authorization": f"Bearer {ADMIN_TOKENS[minimum]}"}
        )
    # The role is enough: whatever the answer, it is not an auth refusal.
    assert allowed.status_code not in (401, 403), allowed.text


async def test_settings_errors_name_each_field(svc: Running) -> None:
    connection_id = (await svc.create())["connection"]["id"]
    async with svc.admin("operator") as operator:
        answer = await operator.patch(
            f"/admin/connections/{connection_id}/settings",
            json={
                "handling_time_days": 31,
                "stock_cadence": {"mode": "interval", "every_minutes": 5},
                "carrier_mapping": {"our-ups": {"code": "NotACarrier"}},
                "order_poll_interval_minutes": 10,
            },
        )
        unknown = await operator.patch(f"/admin/connections/{connection_id}/settings", json={"colour": "blue"})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    # Each field named as the patch spells it; the refused value is never repeated.
    fields = {e["field"]: e["message"] for e in answer.json()["errors"]}
    assert set(fields) == {
        "handling_time_days",
        "stock_cadence.every_minutes",
        "carrier_mapping.our-ups.code",
        "order_poll_interval_minutes",
    }
    assert "carrier code" in fields["carrier_mapping.our-ups.code"]
    assert "NotACarrier" not in answer.text
    assert "handling_time_days" in answer.json()["detail"]
    assert unknown.status_code == 422 and [e["field"] for e in unknown.json()["errors"]] == ["colour"]
    assert (await svc.connection(connection_id))["settings"]["handling_time_days"] == 2


async def test_creating_a_connection_validates_region_and_marketplaces(svc: Running) -> None:
    async with svc.admin() as admin:
        wrong_region = await admin.post(
            "/admin/connections", json={"name": "x", "region": "EU", "marketplace_ids": ["ATVPDKIKX0DER", "BOGUS"]}
        )
        missing = await admin.post("/admin/connections", json={"name": "x", "region": "NA"})
        token_in_name = await admin.post(
            "/admin/connections", json={"name": "Atzr|abc", "region": "NA", "marketplace_ids": ["ATVPDKIKX0DER"]}
        )
        bad_settings = await admin.post(
            "/admin/connections",
            json={"name": "x", "region": "NA", "marketplace_ids": ["ATVPDKIKX0DER"], "settings": {"fba_handling": 3}},
        )
    assert wrong_region.status_code == 422
    assert {e["field"] for e in wrong_region.json()["errors"]} == {"marketplace_ids.0", "marketplace_ids.1"}
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "marketplace_ids"
    assert token_in_name.status_code == 422 and token_in_name.json()["errors"][0]["field"] == "name"
    assert bad_settings.status_code == 422 and bad_settings.json()["errors"][0]["field"] == "settings.fba_handling"
    async with svc.admin("viewer") as viewer:
        assert (await viewer.get("/admin/connections")).json() == []


async def test_enable_disable_and_disconnect(svc: Running) -> None:
    pending = (await svc.create(name="pending"))["connection"]["id"]
    active = (await svc.connect(name="active"))["id"]
    async with svc.admin("operator") as operator, svc.admin() as admin:
        cannot_enable = await operator.post(f"/admin/connections/{pending}/enable")
        disabled = await operator.post(f"/admin/connections/{active}/disable")
        enabled = await operator.post(f"/admin/connections/{active}/enable")
        gone = await admin.post(f"/admin/connections/{active}/disconnect")
        after = await operator.post(f"/admin/connections/{active}/enable")
        settings_after = await operator.patch(f"/admin/connections/{active}/settings", json={"fba_handling": True})
    assert cannot_enable.status_code == 409 and "consent" in cannot_enable.json()["detail"]
    assert disabled.json()["status"] == "disabled"
    assert enabled.json()["status"] == "active"
    assert gone.json()["status"] == "disconnected"
    assert after.status_code == 409
    assert settings_after.status_code == 409
    assert await svc.stored(active) == {"refresh_tokens": 0, "authorized": 1}


async def test_disabling_keeps_consent_and_settings(svc: Running) -> None:
    active = (await svc.connect())["id"]
    async with svc.admin("operator") as operator:
        await operator.patch(f"/admin/connections/{active}/settings", json={"stock_warehouse_ids": ["W1", "W2"]})
        disabled = (await operator.post(f"/admin/connections/{active}/disable")).json()
    assert disabled["settings"]["stock_warehouse_ids"] == ["W1", "W2"]
    assert disabled["selling_partner_id"] is not None
    assert (await svc.stored(active))["refresh_tokens"] == 1


async def test_test_connection_reports_amazons_marketplaces_against_the_configured_ones(svc: Running) -> None:
    matching = (await svc.connect(name="us"))["id"]
    async with svc.admin() as admin:
        # The sandbox's default seller sells in the US only; Canada is configured but not at Amazon.
        await admin.patch(f"/admin/connections/{matching}", json={"marketplace_ids": ["ATVPDKIKX0DER"]})
    async with svc.admin("operator") as operator:
        good = (await operator.post(f"/admin/connections/{matching}/test")).json()
        await operator.patch(
            f"/admin/connections/{matching}", json={"marketplace_ids": ["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"]}
        )
        bad = (await operator.post(f"/admin/connections/{matching}/test")).json()
    assert good["ok"] is True and good["matches"] is True
    assert "ATVPDKIKX0DER" in [m["id"] for m in good["marketplaces"]]
    # Amazon's non-retail marketplaces are listed as participating, as Amazon does, but never as not configured.
    assert "A2ZV50J4W1RKNI" in [m["id"] for m in good["marketplaces"] if m["participating"]]
    assert good["not_configured"] == []
    assert bad["ok"] is True and bad["matches"] is False
    assert bad["missing_at_amazon"] == ["A2EUQ1WTGCTBG2"]


async def test_test_connection_of_a_pending_connection_is_a_conflict(svc: Running) -> None:
    pending = (await svc.create())["connection"]["id"]
    async with svc.admin("operator") as operator:
        answer = await operator.post(f"/admin/connections/{pending}/test")
        unknown = await operator.post("/admin/connections/conn-0000000000000000/test")
        malformed = await operator.post("/admin/connections/conn-missing/test")
    assert answer.status_code == 409
    assert unknown.status_code == 404 and "does not exist" in unknown.json()["detail"]
    assert malformed.status_code == 422 and malformed.json()["errors"][0]["field"] == "connection_id"


async def test_admin_actions_are_audited_by_name(svc: Running) -> None:
    active = (await svc.connect())["id"]
    async with svc.admin("operator") as operator:
        await operator.patch(f"/admin/connections/{active}/settings", json={"product_code": "asin"})
    async with svc.admin("viewer") as viewer:
        trail = (await viewer.get(f"/admin/connections/{active}/audit")).json()
    actions = [(e["action"], e["actor"]) for e in reversed(trail)]
    assert actions == [
        ("connection.created", "admin-user"),
        ("authorization.completed", "A1SANDBOXSELLER"),
        ("settings.updated", "operator-user"),
    ]
    assert trail[0]["details"] == {"fields": ["product_code"]}


async def test_test_connection_answers_429_with_retry_after_once_amazons_quota_is_spent(svc: Running) -> None:
    active = (await svc.connect())["id"]
    plan = spapi.DEFAULT_RATE_LIMITS["sellers.getMarketplaceParticipations"]
    burst = plan.burst
    # The sandbox refills at 100x Amazon's 0.016/s: a queue of a few seconds needs more callers than the burst.
    callers = burst + 15

    async def timed(operator: httpx.AsyncClient) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        response = await operator.post(f"/admin/connections/{active}/test")
        return response, time.monotonic() - started

    async with svc.admin("operator") as operator:
        answers = await asyncio.gather(*(timed(operator) for _ in range(callers)))
    statuses = [r.status_code for r, _ in answers]
    refused = [(r, took) for r, took in answers if r.status_code == 429]
    assert set(statuses) == {200, 429} and statuses.count(200) >= burst, statuses
    for response, took in refused:
        assert took < connections.ADMIN_MAX_WAIT + 2
        # Past the bounded wait: the next token is further away than ADMIN_MAX_WAIT (at most the whole queue's time).
        assert connections.ADMIN_MAX_WAIT < int(response.headers["retry-after"]) <= math.ceil(callers / plan.rate)
        assert "rate limit" in response.json()["detail"]
