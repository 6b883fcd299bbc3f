"""catalog-sync in `make demo`: the seller's catalog imported from Amazon's listings report onto listing.updated
(a few listings and one variation family), an SKU link, and an FBA mismatch against the internal FBA warehouse."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import httpx
from demo import KAFKA, SANDBOX, _read_events, admin_api, admin_token

CATALOG_SYNC = os.environ.get("CATALOG_SYNC_URL", "http://127.0.0.1:18106")
SELLER = "A1SANDBOXSELLER"
FBA_WAREHOUSE = "WH-FBA-MIRROR"


def _api(role: str) -> httpx.Client:
    return httpx.Client(base_url=CATALOG_SYNC, headers={"authorization": f"Bearer {admin_token(role)}"}, timeout=30)


def _wait(probe: Any, what: str, timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := probe():
            return found
        time.sleep(0.5)
    sys.exit(f"catalog-sync: {what} did not happen within {timeout:.0f} s; see .run/logs/catalog-sync.log")


async def _stock(sku: str, available: int) -> None:
    """The WMS reports its count of the FBA mirror warehouse: stock.changed, as internal systems publish it."""
    from aiokafka import AIOKafkaProducer
    from contracts import StockChangedV1, encode, new_event

    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    payload = StockChangedV1(sku=sku, warehouse_id=FBA_WAREHOUSE, available=available, as_of=now)  # type: ignore[arg-type]
    record = encode(new_event("stock.changed", payload, source="demo-wms", revision=now))
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA)
    await producer.start()
    try:
        await producer.send_and_wait(record.topic, record.value, key=record.key, headers=record.headers)
    finally:
        await producer.stop()


def run(connection_id: str) -> None:
    print("\n== catalog-sync: Amazon listings, variations and FBA stock ==")
    with httpx.Client(base_url=SANDBOX, timeout=30) as sandbox:
        made = sandbox.post(
            "/_sandbox/generator/catalog",
            json={"seller_id": SELLER, "count": 30, "fba_share": 0.3, "family_size": 3, "prefix": "DEMO"},
        ).json()
        sandbox.post(
            "/_sandbox/listings",
            json={"seller_id": SELLER, "sku": "DEMO-FBA-TENT", "fulfillment": "AFN", "quantity": None,
                  "item_name": "Trailhead tent (FBA)", "price": "129.99", "fba": {"fulfillable": 25, "reserved": 1}},
        ).raise_for_status()  # fmt: skip
    print(f"Amazon (the sandbox) has {made['count'] + 1} new listings: {made['fba'] + 1} FBA, "
          f"{made['parents']} variation parents with {made['children']} children")  # fmt: skip

    with admin_api() as api:  # connector-auth: name the internal warehouse that mirrors FBA stock
        api.patch(
            f"/admin/connections/{connection_id}/settings", json={"fba_warehouse_id": FBA_WAREHOUSE}
        ).raise_for_status()
    with _api("operator") as operator:
        operator.post(f"/admin/connections/{connection_id}/sync-now").raise_for_status()

    with _api("viewer") as viewer:

        def imported() -> dict[str, Any] | None:
            runs = viewer.get("/admin/sync-runs", params={"connection_id": connection_id, "limit": 20}).json()
            done = [r for r in runs if r["lane"] == "catalog" and r["status"] in ("succeeded", "failed")]
            return next((r for r in done if r["trigger"] == "manual"), None)

        run_ = _wait(imported, "the catalog import")
        print(f"import run {run_['id']}: {run_['status']}, {run_['records_fetched']} read, "
              f"{run_['records_published']} published, {run_['records_unchanged']} unchanged")  # fmt: skip

    keys = {f"{connection_id}:{sku}" for sku in ["DEMO-FBA-TENT"] + [f"DEMO-{n:06d}" for n in range(1, 40)]}
    keys |= {f"{connection_id}:DEMO-{n:06d}-{s}" for n in range(1, 40) for s in ("P", "00", "01", "02")}
    events = asyncio.run(_read_events("listing.updated", keys, lambda found: len(found) >= made["count"] + 1))
    latest = {e.data.sku: e.data for e in events}
    print("a few listings on listing.updated:")
    for listing in [latest["DEMO-FBA-TENT"], *[x for x in latest.values() if x.parent_sku is None][:3]]:
        price = f"{listing.price.amount} {listing.price.currency}" if listing.price else "-"
        print(f"  {listing.sku:16} {listing.fulfillment_channel}  {listing.status:12} {price:>12}  {listing.title}")
    parent = next((x for x in latest.values() if x.variation_theme and x.parent_sku is None), None)
    if parent is not None:
        print(f"variation family {parent.sku} (theme {parent.variation_theme}):")
        for child in sorted((x for x in latest.values() if x.parent_sku == parent.sku), key=lambda x: x.sku):
            print(f"  {child.sku}  {child.variation_attributes}")

    asyncio.run(_stock("DEMO-FBA-TENT", 21))
    with _api("viewer") as viewer:

        def mismatch() -> list[dict[str, Any]] | None:
            answer = viewer.get(f"/admin/connections/{connection_id}/fba-mismatches").json()
            return answer["mismatches"] or None

        for m in _wait(mismatch, "the FBA mismatch"):
            print(f"FBA mismatch in {FBA_WAREHOUSE}: {m['sku']} ours {m['ours']}, Amazon {m['amazon']}, "
                  f"difference {m['difference']} since {m['since']}")  # fmt: skip
