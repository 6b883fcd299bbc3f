"""pytest fixtures for the SP-API sandbox: one server per session, a clean Amazon for every test.

`sandbox_url` is the base URL to point libs/spapi (endpoint, LWA token URL, consent URL) at.
`sandbox` resets state and faults and hands back a small helper over the `/_sandbox/` admin API.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from testkit.waiting import eventually

# Rates x100: searchOrders 0.56/s, createFeed(JSON_LISTINGS_FEED) 1.7/s, patchListingsItem 500/s; feeds finish
# in ~0.15 s. Bursts are unchanged, so a client that ignores them still sees 429s.
SPEEDUP = 100.0
DEFAULT_SELLER_ID = "A1SANDBOXSELLER"
DEFAULT_MARKETPLACE_ID = "ATVPDKIKX0DER"


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    # Imported here so suites that never touch Amazon do not need the sandbox installed.
    from spapi_sandbox import SandboxConfig, running

    with running(SandboxConfig(speedup=SPEEDUP)) as url:
        yield url


class Sandbox:
    """The test's view of the sandbox: arrange sellers, listings, orders and faults; read the ledger."""

    def __init__(self, url: str, client: httpx.Client) -> None:
        self.url = url
        self.client = client
        self.seller_id = DEFAULT_SELLER_ID
        self.marketplace_id = DEFAULT_MARKETPLACE_ID
        self.refresh_token = ""

    def _ok(self, response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self) -> None:
        answer = self._ok(self.client.post("/_sandbox/reset"))
        self.refresh_token = str(answer["default_seller"]["refresh_token"])

    # --- auth ----------------------------------------------------------------------------------------
    def access_token(self, refresh_token: str | None = None) -> str:
        answer = self._ok(
            self.client.post(
                "/auth/o2/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": refresh_token or self.refresh_token,
                    "client_id": "sandbox-client",
                    "client_secret": "sandbox-secret",
                },
            )
        )
        return str(answer["access_token"])

    def headers(self, refresh_token: str | None = None) -> dict[str, str]:
        return {"x-amz-access-token": self.access_token(refresh_token)}

    # --- arrange -------------------------------------------------------------------------------------
    def create_seller(self, marketplace_ids: list[str], **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._ok(
            self.client.post("/_sandbox/sellers", json={"marketplace_ids": marketplace_ids, **fields})
        )
        return result

    def create_listing(self, sku: str, quantity: int | None = 0, **fields: Any) -> dict[str, Any]:
        body = {"seller_id": self.seller_id, "sku": sku, "quantity": quantity, **fields}
        result: dict[str, Any] = self._ok(self.client.post("/_sandbox/listings", json=body))
        return result

    def listing(self, sku: str, seller_id: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._ok(self.client.get(f"/_sandbox/listings/{seller_id or self.seller_id}/{sku}"))
        return result

    def create_order(self, items: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
        body = {"seller_id": self.seller_id, "items": items, **fields}
        result: dict[str, Any] = self._ok(self.client.post("/_sandbox/orders", json=body))
        return result

    def order(self, order_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._ok(self.client.get(f"/_sandbox/orders/{order_id}"))
        return result

    def transition(self, order_id: str, status: str | None = None, **fields: Any) -> dict[str, Any]:
        body = {"status": status, **fields}
        result: dict[str, Any] = self._ok(self.client.post(f"/_sandbox/orders/{order_id}/transition", json=body))
        return result

    def fault(self, **fields: Any) -> None:
        self._ok(self.client.post("/_sandbox/faults", json=fields))

    def clear_faults(self) -> None:
        self._ok(self.client.delete("/_sandbox/faults"))

    def notify_to(self, url: str | None) -> None:
        self._ok(self.client.post("/_sandbox/notifications/destination", json={"url": url}))

    # --- wait ----------------------------------------------------------------------------------------
    # searchOrders hides changes younger than two minutes (1.2 s here). These ask the admin API, never
    # searchOrders itself, so waiting spends none of its rate limit.
    async def until_searchable(self, *orders: dict[str, Any] | str, timeout: float = 10.0) -> None:
        """Waits until searchOrders shows each order (its dict from `create_order`, or its id) as it is now."""
        ids = [o if isinstance(o, str) else str(o["AmazonOrderId"]) for o in orders]
        async with httpx.AsyncClient(base_url=self.url, timeout=10.0) as client:

            async def all_searchable() -> bool:
                hidden = []
                for order_id in ids:
                    response = await client.get(f"/_sandbox/orders/{order_id}")
                    if not self._ok(response)["searchable"]:
                        hidden.append(order_id)
                assert not hidden, f"searchOrders does not show {hidden} yet"
                return True

            await eventually(all_searchable, timeout=timeout, interval=0.05)

    async def until_horizon_passes(self, moment: datetime, timeout: float = 10.0) -> None:
        """Waits until searchOrders takes `moment` as its Before (so it shows every change up to it)."""
        async with httpx.AsyncClient(base_url=self.url, timeout=10.0) as client:

            async def passed() -> bool:
                horizon = datetime.fromisoformat(self._ok(await client.get("/_sandbox/health"))["search_horizon"])
                assert horizon >= moment, f"searchOrders' horizon {horizon.isoformat()} is before {moment.isoformat()}"
                return True

            await eventually(passed, timeout=timeout, interval=0.05)

    # --- assert --------------------------------------------------------------------------------------
    def ledger(self, **filters: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._ok(self.client.get("/_sandbox/ledger", params=filters))
        return result

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._ok(self.client.get("/_sandbox/requests", params=filters))
        return result

    def notifications(self, order_id: str | None = None) -> list[dict[str, Any]]:
        params = {"order_id": order_id} if order_id else {}
        result: list[dict[str, Any]] = self._ok(self.client.get("/_sandbox/notifications", params=params))["sent"]
        return result

    def violations(self) -> list[str]:
        result: list[str] = self._ok(self.client.get("/_sandbox/health"))["violations"]
        return result


@pytest.fixture
def sandbox(sandbox_url: str) -> Iterator[Sandbox]:
    with httpx.Client(base_url=sandbox_url, timeout=10.0) as client:
        helper = Sandbox(sandbox_url, client)
        helper.reset()
        yield helper
        # A model violation is a sandbox bug; fail the test that provoked it.
        assert helper.violations() == [], "the SP-API sandbox broke Amazon's models"
