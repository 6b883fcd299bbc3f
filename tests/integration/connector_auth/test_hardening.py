"""connector-auth's consent flow against tampering: single-use and revocable setup links, browser binding,
the callback's seller id confirmed with Amazon, and a renewal on request for a token Amazon rejected."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import spapi
from testkit.sandbox import Sandbox

from .harness import SERVICE_TOKENS, Running, approve_on_consent_page, auto_approved, page_message, with_query


async def _setup_link(svc: Running, connection_id: str) -> dict[str, str]:
    async with svc.admin() as admin:
        answer = await admin.post(f"/admin/connections/{connection_id}/setup-link")
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def _callback_url(browser: httpx.AsyncClient, link_url: str) -> str:
    """Open the link and let the sandbox approve, but stop before coming back to us."""
    to_consent = await browser.get(link_url, follow_redirects=False)
    assert to_consent.status_code == 302, to_consent.text
    to_callback = await browser.get(auto_approved(to_consent.headers["location"]), follow_redirects=False)
    assert to_callback.status_code in (302, 303), to_callback.text
    return str(to_callback.headers["location"])


async def test_a_setup_link_works_once_then_answers_410(svc: Running, sandbox: Sandbox) -> None:
    connection_id = (await svc.create())["connection"]["id"]
    link = await _setup_link(svc, connection_id)
    async with svc.browser() as browser:
        page = await browser.get(link["url"])
        assert (await approve_on_consent_page(browser, page, sandbox.seller_id)).status_code == 200
        again = await browser.get(link["url"])
    assert again.status_code == 410
    assert "already used" in page_message(again)
    assert again.headers["cache-control"] == "no-store"


async def test_a_second_flow_from_a_used_link_cannot_finish(svc: Running, sandbox: Sandbox) -> None:
    """Two browsers opened the same link; once one authorized, the other's state is dead."""
    connection_id = (await svc.create())["connection"]["id"]
    link = await _setup_link(svc, connection_id)
    async with svc.browser() as first, svc.browser() as second:
        late = await _callback_url(second, link["url"])
        assert (await first.get(await _callback_url(first, link["url"]))).status_code == 200
        refused = await second.get(late)
    assert refused.status_code == 400
    assert "already used" in page_message(refused)


async def test_revoking_a_link_kills_the_states_it_already_issued(svc: Running) -> None:
    connection_id = (await svc.create())["connection"]["id"]
    link = await _setup_link(svc, connection_id)
    async with svc.browser() as browser:
        callback = await _callback_url(browser, link["url"])
        async with svc.admin() as admin:
            revoked = await admin.post(f"/admin/connections/{connection_id}/setup-links/{link['id']}/revoke")
        assert revoked.status_code == 200
        refused = await browser.get(callback)
    assert refused.status_code == 400
    assert "revoked" in page_message(refused)
    assert await svc.stored(connection_id) == {"refresh_tokens": 0, "authorized": 0}


async def test_a_setup_link_flow_must_come_back_to_the_browser_that_started_it(svc: Running) -> None:
    connection_id = (await svc.create())["connection"]["id"]
    link = await _setup_link(svc, connection_id)
    async with svc.browser() as seller:
        callback = await _callback_url(seller, link["url"])
        cookies = [c for c in seller.cookies.jar if c.name == "connector_auth_oauth"]
    # The binding cookie reaches only the callback, and scripts cannot read it.
    assert [(c.path, c.has_nonstandard_attr("HttpOnly")) for c in cookies] == [("/oauth/callback", True)]
    async with httpx.AsyncClient(timeout=30) as cookieless:
        refused = await cookieless.get(callback)
    async with httpx.AsyncClient(timeout=30, cookies={"connector_auth_oauth": "A" * 43}) as forger:
        forged = await forger.get(callback)
    for answer in (refused, forged):
        assert answer.status_code == 400
        assert "another browser" in page_message(answer)
    assert await svc.stored(connection_id) == {"refresh_tokens": 0, "authorized": 0}


async def test_a_seller_id_edited_in_the_callback_is_refused(svc: Running, sandbox: Sandbox) -> None:
    """The code belongs to one seller; the browser claims another. Amazon says whose the token is."""
    other = sandbox.create_seller([sandbox.marketplace_id])["selling_partner_id"]
    connection_id = (await svc.create())["connection"]["id"]
    link = await _setup_link(svc, connection_id)
    async with svc.browser() as browser:
        callback = await _callback_url(browser, link["url"])
        assert parse_qs(urlsplit(callback).query)["selling_partner_id"] == [sandbox.seller_id]
        refused = await browser.get(with_query(callback, selling_partner_id=other))
    assert refused.status_code == 400
    assert "different seller account" in page_message(refused)
    assert await svc.stored(connection_id) == {"refresh_tokens": 0, "authorized": 0}
    assert (await svc.connection(connection_id))["selling_partner_id"] is None


async def test_nothing_is_bound_when_amazon_cannot_confirm_the_seller(svc: Running, sandbox: Sandbox) -> None:
    created = await svc.create()
    sandbox.fault(operation="getListingsItem", status=503)
    async with svc.browser() as browser:
        landed = await browser.get(auto_approved(created["consent_url"]))
    assert landed.status_code == 502
    assert "could not confirm the seller account" in page_message(landed)
    assert await svc.stored(created["connection"]["id"]) == {"refresh_tokens": 0, "authorized": 0}

    sandbox.clear_faults()
    async with svc.admin() as admin:
        consent = (await admin.post(f"/admin/connections/{created['connection']['id']}/authorize")).json()
    async with svc.browser() as browser:
        assert (await browser.get(auto_approved(consent["consent_url"]))).status_code == 200
    assert (await svc.connection(created["connection"]["id"]))["selling_partner_id"] == sandbox.seller_id


async def test_a_seller_bound_elsewhere_is_refused_with_the_holder_named(svc: Running, sandbox: Sandbox) -> None:
    first = await svc.connect(name="first")
    second = await svc.create(name="second")
    async with svc.browser() as browser:
        page = await browser.get(second["consent_url"])
        landed = await approve_on_consent_page(browser, page, sandbox.seller_id)
    assert landed.status_code == 400
    message = page_message(landed)
    assert "already connected" in message and first["id"] in message and "disconnect that one first" in message
    assert await svc.stored(second["connection"]["id"]) == {"refresh_tokens": 0, "authorized": 0}


async def test_a_service_can_have_a_rejected_token_renewed_once_per_30_seconds(svc: Running) -> None:
    connection = await svc.connect()
    url = f"/internal/connections/{connection['id']}/access-token"
    async with svc.as_service() as client:
        first = (await client.post(url)).json()["access_token"]
        assert (await client.post(url)).json()["access_token"] == first  # cached
        renewed = (await client.post(url, params={"renew": "true"})).json()["access_token"]
        assert renewed != first
        # Every replica that saw the same 401 asks at once: they share the one renewal.
        assert (await client.post(url, params={"renew": "true"})).json()["access_token"] == renewed
        svc.clock.advance(timedelta(seconds=31))
        again = (await client.post(url, params={"renew": "true"})).json()["access_token"]
    assert again not in (first, renewed)


async def test_spapis_token_source_asks_for_the_renewal_after_a_rejection(svc: Running) -> None:
    connection = await svc.connect()
    async with httpx.AsyncClient(timeout=30) as http:
        source = spapi.ConnectorAuthTokenSource(http, svc.base_url, connection["id"], SERVICE_TOKENS["orders-ingest"])
        first = await source.access_token()
        assert await source.access_token() == first
        source.invalidate(first)
        renewed = await source.access_token()
        # Before, connector-auth handed back the same cached token; now it renewed it.
        assert renewed != first
        # A rejection of a token already replaced asks for nothing.
        source.invalidate(first)
        assert await source.access_token() == renewed
