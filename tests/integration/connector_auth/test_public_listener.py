"""The public listener serves exactly the browser's routes; everything else stays on the internal port."""

from __future__ import annotations

import httpx
from testkit.sandbox import Sandbox

from .harness import ADMIN_TOKENS, SERVICE_TOKENS, Running, approve_on_consent_page


async def test_the_public_port_serves_only_setup_links_and_the_callback(svc: Running, sandbox: Sandbox) -> None:
    created = await svc.create()
    connection_id = created["connection"]["id"]
    admin_auth = {"authorization": f"Bearer {ADMIN_TOKENS['admin']}"}
    service_auth = {"authorization": f"Bearer {SERVICE_TOKENS['orders-ingest']}"}
    async with httpx.AsyncClient(base_url=svc.public_url, timeout=30) as public:
        for method, path, headers in [
            ("GET", "/admin/connections", admin_auth),
            ("POST", f"/admin/connections/{connection_id}/setup-link", admin_auth),
            ("POST", f"/internal/connections/{connection_id}/access-token", service_auth),
            ("GET", "/metrics", {}),
            ("GET", "/docs", {}),
            ("GET", "/openapi.json", {}),
            ("GET", "/readyz", {}),
        ]:
            answer = await public.request(method, path, headers=headers)
            assert answer.status_code == 404, (method, path, answer.status_code)

    async with httpx.AsyncClient(base_url=svc.base_url, timeout=30) as internal:
        assert (await internal.get("/metrics")).status_code == 200
        paths = (await internal.get("/openapi.json")).json()["paths"]
        assert "/oauth/callback" not in paths and not any(p.startswith("/setup/") for p in paths)
        assert (await internal.get("/oauth/callback", params={"state": "x"})).status_code == 404
        link = (await internal.post(f"/admin/connections/{connection_id}/setup-link", headers=admin_auth)).json()

    # The links and redirect URI the service hands out point at the public listener, and the flow works there.
    assert link["url"].startswith(f"{svc.public_url}/setup/")
    async with svc.browser() as browser:
        page = await browser.get(link["url"])
        landed = await approve_on_consent_page(browser, page, sandbox.seller_id)
    assert landed.status_code == 200, landed.text
    assert str(landed.url).startswith(f"{svc.public_url}/oauth/callback?")
    assert (await svc.connection(connection_id))["status"] == "active"
