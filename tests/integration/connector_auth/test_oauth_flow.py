"""The consent flow end to end: our consent URL, the sandbox's consent page and LWA endpoint, our callback."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
from connector_auth.crypto import Sealed, refresh_token_aad
from connector_auth.oauth_state import Signer, issue_state
from marketplaces import MARKETPLACES
from testkit.sandbox import Sandbox

from .harness import Running, approve_on_consent_page, auto_approved, page_message, running, texts_of, with_query


async def test_operator_connects_a_seller_through_the_consent_page(svc: Running, sandbox: Sandbox) -> None:
    created = await svc.create(name="ACME US")
    connection_id = created["connection"]["id"]
    assert created["connection"]["status"] == "pending"
    consent = urlsplit(created["consent_url"])
    query = parse_qs(consent.query)
    assert consent.path == "/apps/authorize/consent"
    assert query["application_id"] == ["amzn1.sp.solution.test"]
    assert query["redirect_uri"] == [f"{svc.public_url}/oauth/callback"]

    async with svc.browser() as browser:
        page = await browser.get(created["consent_url"])
        landed = await approve_on_consent_page(browser, page, sandbox.seller_id)

    assert landed.status_code == 200, landed.text
    assert str(landed.url).startswith(f"{svc.public_url}/oauth/callback?")
    assert "connected" in landed.text
    assert landed.headers["referrer-policy"] == "no-referrer"
    connection = await svc.connection(connection_id)
    assert connection["status"] == "active"
    assert connection["selling_partner_id"] == sandbox.seller_id
    assert connection["authorized_at"] is not None
    assert connection["reauthorization_deadline"] is not None


async def test_refresh_token_is_stored_encrypted_and_bound_to_its_connection(svc: Running, sandbox: Sandbox) -> None:
    connection = await svc.connect()
    conn = await svc.db()
    try:
        rows = await conn.fetch("SELECT * FROM refresh_tokens")
    finally:
        await conn.close()
    assert len(rows) == 1
    row = rows[0]
    token = sandbox.refresh_token
    assert token.startswith("Atzr|")
    assert token.encode() not in bytes(row["ciphertext"])
    assert token not in texts_of(rows) and token.encode().hex() not in texts_of(rows)
    sealed = Sealed(row["key_id"], bytes(row["nonce"]), bytes(row["ciphertext"]))
    assert svc.deps.cipher.decrypt(sealed, refresh_token_aad(connection["id"], "NA")) == token


async def test_seller_runs_the_flow_from_a_setup_link(svc: Running, sandbox: Sandbox) -> None:
    created = await svc.create()
    connection_id = created["connection"]["id"]
    async with svc.admin() as admin:
        link = (await admin.post(f"/admin/connections/{connection_id}/setup-link")).json()
    assert link["url"].startswith(f"{svc.public_url}/setup/")

    async with svc.browser() as browser:
        page = await browser.get(link["url"])
        assert str(page.url).startswith(f"{sandbox.url}/apps/authorize/consent?")
        landed = await approve_on_consent_page(browser, page, sandbox.seller_id)

    assert landed.status_code == 200, landed.text
    assert (await svc.connection(connection_id))["status"] == "active"
    async with svc.admin("viewer") as viewer:
        links = (await viewer.get(f"/admin/connections/{connection_id}/setup-links")).json()
    assert [x["id"] for x in links] == [link["id"]]
    assert links[0]["used_at"] is not None and links[0]["url"] is None


async def test_a_replayed_state_is_refused_and_changes_nothing(svc: Running) -> None:
    created = await svc.create()
    connection_id = created["connection"]["id"]
    async with svc.browser() as browser:
        landed = await browser.get(auto_approved(created["consent_url"]))
        assert landed.status_code == 200
        before = await svc.connection(connection_id)
        replay = await browser.get(str(landed.url))

    assert replay.status_code == 400
    assert "already used" in page_message(replay)
    assert await svc.connection(connection_id) == before


async def test_an_expired_state_is_refused_and_nothing_is_stored(svc: Running) -> None:
    created = await svc.create()
    connection_id = created["connection"]["id"]
    svc.clock.advance(timedelta(minutes=10, seconds=1))
    async with svc.browser() as browser:
        landed = await browser.get(auto_approved(created["consent_url"]))

    assert landed.status_code == 400
    assert "expired" in page_message(landed)
    assert await svc.stored(connection_id) == {"refresh_tokens": 0, "authorized": 0}
    assert (await svc.connection(connection_id))["status"] == "pending"


async def test_a_state_of_another_browsers_flow_is_refused(svc: Running, sandbox: Sandbox) -> None:
    """Login CSRF: a victim's browser is made to land on the attacker's callback URL."""
    victim_connection = (await svc.create(name="victim"))["connection"]["id"]
    attacker_connection = (await svc.create(name="attacker"))["connection"]["id"]
    async with svc.admin() as admin:
        victim_link = (await admin.post(f"/admin/connections/{victim_connection}/setup-link")).json()["url"]
        attacker_link = (await admin.post(f"/admin/connections/{attacker_connection}/setup-link")).json()["url"]

    async with svc.browser() as victim, httpx.AsyncClient(timeout=30) as attacker:
        # The victim starts their own flow (gets the binding cookie for it) but has not come back yet.
        await victim.get(victim_link, follow_redirects=False)
        # The attacker runs theirs up to Amazon's redirect and keeps the callback URL instead of following it.
        to_consent = await attacker.get(attacker_link)
        to_callback = await attacker.get(auto_approved(to_consent.headers["location"]))
        callback_url = to_callback.headers["location"]
        assert callback_url.startswith(f"{svc.public_url}/oauth/callback?")

        forced = await victim.get(callback_url)
        assert forced.status_code == 400
        assert "another browser" in page_message(forced)
        assert await svc.stored(victim_connection) == {"refresh_tokens": 0, "authorized": 0}
        assert await svc.stored(attacker_connection) == {"refresh_tokens": 0, "authorized": 0}

        # The refusal did not burn the attacker's state: the browser that started the flow can finish it.
        own = await attacker.get(callback_url)
        assert own.status_code == 200, own.text
    assert (await svc.stored(attacker_connection))["refresh_tokens"] == 1


async def test_a_state_signed_elsewhere_or_edited_is_refused(svc: Running) -> None:
    first = await svc.create(name="first")
    second = (await svc.create(name="second"))["connection"]["id"]
    callback = f"{svc.public_url}/oauth/callback"
    params = {"selling_partner_id": "A1SANDBOXSELLER", "spapi_oauth_code": "ANsandboxcode"}
    foreign = issue_state(Signer(b"another deployment's key"), second, svc.clock()).value
    # The first connection's genuine state, re-pointed at the second connection.
    genuine = parse_qs(urlsplit(first["consent_url"]).query)["state"][0]
    mac = genuine.partition(".")[2]
    edited_body = issue_state(Signer(b"x"), second, svc.clock()).value.partition(".")[0]

    async with svc.browser() as browser:
        for state in (foreign, f"{edited_body}.{mac}", "", "not-a-state"):
            refused = await browser.get(with_query(callback, state=state, **params))
            assert refused.status_code == 400, state
            assert "state" in page_message(refused)

    for connection_id in (first["connection"]["id"], second):
        assert await svc.stored(connection_id) == {"refresh_tokens": 0, "authorized": 0}


async def test_a_seller_account_already_connected_is_refused_on_a_second_connection(svc: Running) -> None:
    await svc.connect(name="first")
    second = await svc.create(name="second")
    async with svc.browser() as browser:
        landed = await browser.get(auto_approved(second["consent_url"]))
    assert landed.status_code == 400
    assert "already connected" in page_message(landed)
    assert await svc.stored(second["connection"]["id"]) == {"refresh_tokens": 0, "authorized": 0}


async def test_a_revoked_setup_link_no_longer_opens(svc: Running) -> None:
    connection_id = (await svc.create())["connection"]["id"]
    async with svc.admin() as admin:
        link = (await admin.post(f"/admin/connections/{connection_id}/setup-link")).json()
        revoked = await admin.post(f"/admin/connections/{connection_id}/setup-links/{link['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    async with svc.browser() as browser:
        opened = await browser.get(link["url"])
    assert opened.status_code == 400
    assert "revoked" in page_message(opened)


async def test_a_setup_link_expires_after_seven_days(svc: Running) -> None:
    connection_id = (await svc.create())["connection"]["id"]
    async with svc.admin() as admin:
        link = (await admin.post(f"/admin/connections/{connection_id}/setup-link")).json()
    svc.clock.advance(timedelta(days=7, seconds=1))
    async with svc.browser() as browser:
        opened = await browser.get(link["url"])
    assert opened.status_code == 400
    assert "expired" in page_message(opened)


async def test_each_marketplace_consents_on_its_own_seller_central(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, namespace: str
) -> None:
    """Without SELLER_CENTRAL_URL the consent page is the Seller Central of the connection's first marketplace."""
    async with running(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        sandbox_url=sandbox.url,
        namespace=namespace,
        sandbox_consent_page=False,
    ) as svc:
        hosts: dict[str, str] = {}
        for m in MARKETPLACES.values():
            created = await svc.create(name=f"Seller {m.country}", region=m.region.value, marketplace_ids=[m.id])
            consent = urlsplit(created["consent_url"])
            assert (consent.scheme, consent.path) == ("https", "/apps/authorize/consent"), m.id
            hosts[m.id] = f"https://{consent.netloc}"
    assert hosts == {mid: m.seller_central for mid, m in MARKETPLACES.items()}
    assert hosts["A2Q3Y263D00KWC"] == "https://sellercentral.amazon.com.br"
    assert hosts["A21TJRUUN4KGV"] == "https://sellercentral.amazon.in"
    assert hosts["A39IBJ37TRP1C6"] == "https://sellercentral.amazon.com.au"
