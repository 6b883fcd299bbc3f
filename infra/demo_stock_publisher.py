"""stock-publisher in `make demo`: the WMS counts a few SKUs in two warehouses; Amazon (the sandbox) accepts each
SKU's sum and, once its apply delay passed, shows it: stock.published says accepted, then applied."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from demo import KAFKA, SANDBOX, _read_events, admin_api, admin_token

STOCK_PUBLISHER = os.environ.get("STOCK_PUBLISHER_URL", "http://127.0.0.1:18103")
SELLER = "A1SANDBOXSELLER"
MARKETPLACE = "ATVPDKIKX0DER"
WAREHOUSES = ["WH-EAST", "WH-WEST"]
COUNTS = {"DEMO-STOCK-LAMP": (12, 3), "DEMO-STOCK-MUG": (0, 7), "DEMO-STOCK-SOCKS": (40, 25)}


async def _publish(connection_id: str) -> None:
    from aiokafka import AIOKafkaProducer
    from contracts import ListingUpdatedV1, StockChangedV1, encode, listing_key, new_event

    now = datetime.now(UTC)
    events = []
    for sku in COUNTS:
        # catalog-sync publishes these from Amazon's listings report; the demo says it itself so it need not wait.
        listing = ListingUpdatedV1(
            connection_id=connection_id, sku=sku, listing_key=listing_key(connection_id, sku),
            revision=int(now.timestamp()), marketplace_id=MARKETPLACE, status="BUYABLE",  # type: ignore[arg-type]
            fulfillment_channel="MFN", item_id=sku, updated_at=now,  # type: ignore[arg-type]
        )  # fmt: skip
        events.append(new_event("listing.updated", listing, source="demo", revision=str(listing.revision)))
    for sku, counts in COUNTS.items():
        for warehouse, available in zip(WAREHOUSES, counts, strict=True):
            payload = StockChangedV1(sku=sku, warehouse_id=warehouse, available=available, as_of=now)
            events.append(new_event("stock.changed", payload, source="demo-wms", revision=now.isoformat()))
        # A warehouse the connection does not sell from: not counted.
        other = StockChangedV1(sku=sku, warehouse_id="WH-RETURNS", available=99, as_of=now)
        events.append(new_event("stock.changed", other, source="demo-wms", revision=now.isoformat()))
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA)
    await producer.start()
    try:
        for event in events:
            record = encode(event)
            await producer.send_and_wait(record.topic, record.value, key=record.key, headers=record.headers)
    finally:
        await producer.stop()


def _both_seen(events: list[Any]) -> bool:
    applied = {e.data.sku for e in events if e.data.verification == "applied"}
    return applied >= set(COUNTS)


def run(connection_id: str) -> None:
    print("\n== stock-publisher: stock from two warehouses to Amazon, accepted and then applied ==")
    with admin_api("operator") as api:
        answer = api.patch(
            f"/admin/connections/{connection_id}/settings",
            json={"stock_warehouse_ids": WAREHOUSES, "stock_cadence": {"mode": "near_real_time"},
                  "handling_time_days": 2},
        )  # fmt: skip
        answer.raise_for_status()
    with httpx.Client(base_url=SANDBOX, timeout=30) as sandbox:
        for sku in COUNTS:
            sandbox.post(
                "/_sandbox/listings", json={"seller_id": SELLER, "sku": sku, "quantity": 0, "item_name": sku.title()}
            ).raise_for_status()
    started = time.monotonic()
    asyncio.run(_publish(connection_id))
    print(f"stock.changed: {', '.join(f'{s} {WAREHOUSES[0]}={a} {WAREHOUSES[1]}={b}' for s, (a, b) in COUNTS.items())}")
    print("  (and 99 each in WH-RETURNS, which the connection does not sell from)")
    events = asyncio.run(_read_events("stock.published", set(COUNTS), _both_seen, timeout=180))
    if not _both_seen(events):
        sys.exit("stock-publisher: not every SKU was applied within 180 s; see .run/logs/stock-publisher.log")
    for event in sorted(events, key=lambda e: (e.data.sku, e.data.published_at)):
        data = event.data
        what = data.verification or data.outcome
        shown = f", Amazon shows {data.amazon_quantity}" if data.amazon_quantity is not None else ""
        print(f"  {data.sku}: {what} quantity {data.quantity} (handling {data.handling_time_days} d) "
              f"via {data.channel}{shown}")  # fmt: skip
    with httpx.Client(
        base_url=STOCK_PUBLISHER, headers={"authorization": f"Bearer {admin_token('viewer')}"}, timeout=30
    ) as api:
        view = api.get("/admin/skus/DEMO-STOCK-LAMP").json()
    state = next(s for s in view["states"] if s["connection_id"] == connection_id)
    print(f"GET /admin/skus/DEMO-STOCK-LAMP: sent {state['sent_quantity']} at {state['sent_at']}, accepted "
          f"{state['accepted_quantity']}, applied {state['applied_quantity']} at {state['applied_at']}")  # fmt: skip
    print(
        f"stock on Amazon within {time.monotonic() - started:.0f} s (the sandbox applies writes 30 s after accepting)"
    )
