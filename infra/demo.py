"""`make demo`: drives the running system (`make up`) the way its users would, one small step per function.

Step 1 connects a seller: an admin creates a connection in connector-auth, then the seller's "browser" opens
Amazon's consent page (the sandbox's), presses Approve, and follows the redirects back to our callback.
Later steps (orders, stock) append functions below and call them from `main`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
LOCAL_ENV = Path(os.environ.get("LOCAL_ENV_FILE", ROOT / ".cache" / "local.env"))
CONNECTOR_AUTH = os.environ.get("CONNECTOR_AUTH_URL", "http://127.0.0.1:18101")
SANDBOX = f"http://127.0.0.1:{os.environ.get('SANDBOX_PORT', '18100')}"
DEMO_CONNECTION = "Demo seller (sandbox)"
DEMO_MARKETPLACE = "ATVPDKIKX0DER"  # the sandbox's default seller sells in the US
ORDERS_INGEST = os.environ.get("ORDERS_INGEST_URL", "http://127.0.0.1:18102")
KAFKA = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:19092")
SANDBOX_REFRESH_TOKEN = "Atzr|sandbox-default-seller-refresh-token"  # noqa: S105 - the sandbox's public default seller


def local_env() -> dict[str, str]:
    """The local-only secrets `make up` generated (admin and service tokens)."""
    if not LOCAL_ENV.exists():
        sys.exit("no .cache/local.env: run `make up` first")
    return dict(line.split("=", 1) for line in LOCAL_ENV.read_text().splitlines() if "=" in line)


def admin_token(role: str = "admin") -> str:
    for entry in local_env()["ADMIN_TOKENS"].split(","):
        _, entry_role, token = entry.split(":", 2)
        if entry_role == role:
            return token
    sys.exit(f"ADMIN_TOKENS in .cache/local.env has no {role} token")


def admin_api(role: str = "admin") -> httpx.Client:
    return httpx.Client(base_url=CONNECTOR_AUTH, headers={"authorization": f"Bearer {admin_token(role)}"}, timeout=30)


class _ConsentForm(HTMLParser):
    """The fields of Seller Central's consent form, as a browser would submit them."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.accounts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = a.get("action", "")
        elif tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "option":
            self.accounts.append(a.get("value", ""))


def approve_as_seller(consent_url: str) -> httpx.Response:
    """Open the consent page, press Approve with the first selling account, follow redirects to our callback."""
    with httpx.Client(follow_redirects=True, timeout=30) as browser:
        page = browser.get(consent_url)
        page.raise_for_status()
        form = _ConsentForm()
        form.feed(page.text)
        if not form.accounts:
            sys.exit(f"the consent page at {page.url} shows no selling account")
        return browser.post(
            str(page.url.join(form.action)),
            data={**form.fields, "selling_partner_id": form.accounts[0], "decision": "approve"},
        )


def find_demo_connection(api: httpx.Client) -> dict[str, Any] | None:
    listed = api.get("/admin/connections")
    listed.raise_for_status()
    live = [c for c in listed.json() if c["name"] == DEMO_CONNECTION and c["status"] != "disconnected"]
    return live[0] if live else None


def connect_seller() -> str:
    """Connects the sandbox's seller through the real consent flow; returns the connection id. Idempotent."""
    with admin_api() as api:
        existing = find_demo_connection(api)
        if existing and existing["status"] in ("active", "disabled"):
            print(f"seller {existing['selling_partner_id']} is already connected as {existing['id']}")
            return str(existing["id"])
        if existing:
            answer = api.post(f"/admin/connections/{existing['id']}/authorize")
            answer.raise_for_status()
            connection_id, consent_url = existing["id"], answer.json()["consent_url"]
        else:
            answer = api.post(
                "/admin/connections",
                json={"name": DEMO_CONNECTION, "region": "NA", "marketplace_ids": [DEMO_MARKETPLACE]},
            )
            answer.raise_for_status()
            connection_id, consent_url = answer.json()["connection"]["id"], answer.json()["consent_url"]
        print(f"created connection {connection_id}; the seller opens Amazon's consent page")
        landed = approve_as_seller(consent_url)
        if landed.status_code != 200:
            sys.exit(f"consent failed ({landed.status_code}): {landed.text}")
        print(f"the seller approved; Amazon redirected the browser back to {str(landed.url).split('?')[0]}")
        return str(connection_id)


def show_connection(connection_id: str) -> dict[str, Any]:
    """Prints the connection as operators see it (status, seller, deadlines, settings)."""
    with admin_api("viewer") as api:
        answer = api.get(f"/admin/connections/{connection_id}")
        answer.raise_for_status()
        connection: dict[str, Any] = answer.json()
    print(f"connection {connection['id']}: {connection['status']}, seller {connection['selling_partner_id']},")
    print(f"  re-authorize by {connection['reauthorization_deadline']}; warnings: {connection['warnings'] or 'none'}")
    print("  settings:")
    print("\n".join("    " + line for line in json.dumps(connection["settings"], indent=2).splitlines()))
    return connection


def test_connection(connection_id: str) -> None:
    """Asks Amazon (the sandbox) which marketplaces the seller sells in, and compares."""
    with admin_api("operator") as api:
        answer = api.post(f"/admin/connections/{connection_id}/test")
        answer.raise_for_status()
        report = answer.json()
    marketplaces = ", ".join(m["id"] for m in report["marketplaces"])
    print(f"test connection: ok={report['ok']} matches={report['matches']} (Amazon: {marketplaces})")


def _sandbox_order(sandbox: httpx.Client, items: list[dict[str, Any]], **fields: Any) -> str:
    answer = sandbox.post("/_sandbox/orders", json={"items": items, **fields})
    answer.raise_for_status()
    return str(answer.json()["AmazonOrderId"])


def _ship_one_unit(sandbox: httpx.Client, order_id: str) -> None:
    """The seller confirms a package with one unit of the first line (Orders v0 confirmShipment, as Amazon)."""
    token = sandbox.post("/auth/o2/token", data={"grant_type": "refresh_token", "refresh_token": SANDBOX_REFRESH_TOKEN,
                                                 "client_id": "demo", "client_secret": "demo"})  # fmt: skip
    token.raise_for_status()
    item = sandbox.get(f"/_sandbox/orders/{order_id}").json()["items"][0]
    body = {"marketplaceId": DEMO_MARKETPLACE, "packageDetail": {
        "packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": "1Z999AA10123456784",
        "shipDate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "orderItems": [{"orderItemId": item["OrderItemId"], "quantity": 1}]}}  # fmt: skip
    answer = sandbox.post(f"/orders/v0/orders/{order_id}/shipmentConfirmation", json=body,
                          headers={"x-amz-access-token": token.json()["access_token"]})  # fmt: skip
    if answer.status_code != 204:
        sys.exit(f"confirmShipment failed ({answer.status_code}): {answer.text}")


async def _read_events(topic: str, keys: set[str], until: Any, timeout: float = 60) -> list[Any]:
    """order.received / order.cancelled events of these orders, read from the topic's start, until `until(events)`."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from contracts import decode

    deadline = time.monotonic() + timeout
    while True:
        consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
        await consumer.start()
        try:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            events: list[Any] = []
            while any([await consumer.position(tp) < end[tp] for tp in partitions]):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    events += [
                        decode(topic, r.value, list(r.headers)) for r in records if r.key and r.key.decode() in keys
                    ]
        finally:
            await consumer.stop()
        if until(events) or time.monotonic() > deadline:
            return events
        await asyncio.sleep(1)


def _await_subscription(sandbox: httpx.Client) -> str:
    """The destination's SQS ARN once Amazon holds the seller's ORDER_CHANGE subscription (made on activation)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = sandbox.get("/_sandbox/notifications").json()
        subscribed = {s["destination_id"] for s in state["subscriptions"] if s["notification_type"] == "ORDER_CHANGE"}
        arns = [d["arn"] for d in state["destinations"] if d["destination_id"] in subscribed]
        if arns:
            return str(arns[0])
        time.sleep(0.3)
    sys.exit("connector-auth did not subscribe the seller to ORDER_CHANGE: see .run/logs/connector-auth.log")


def _notifications_through_sqs(sandbox: httpx.Client) -> int:
    return int(sandbox.get("/_sandbox/notifications").json()["sqs_delivered"])


def ingest_orders(connection_id: str) -> None:
    """Orders placed on Amazon arrive on order.received (new revisions too) and order.cancelled, and the runs
    that carried them are in orders-ingest's sync history. ORDER_CHANGE notifications, which Amazon (the sandbox)
    puts on the SQS queue (ElasticMQ) connector-auth subscribed the seller to, make it immediate."""
    with httpx.Client(base_url=SANDBOX, timeout=30) as sandbox:
        subscription = _await_subscription(sandbox)
        print(f"connector-auth subscribed the seller to ORDER_CHANGE on {subscription}")
        for sku, name in (("TENT-2P-GRN", "Trailhead 2-person tent"), ("STAKE-AL-8", "Aluminium tent stakes, 8")):
            sandbox.post("/_sandbox/listings", json={"sku": sku, "quantity": 50, "item_name": name}).raise_for_status()
        tent, stakes = {"sku": "TENT-2P-GRN", "quantity": 1, "price": "129.99"}, {"sku": "STAKE-AL-8", "quantity": 2,
                                                                                   "price": "12.99"}  # fmt: skip
        orders = {
            "prime, next day": _sandbox_order(sandbox, [tent], is_prime=True, ship_service_level="NextDay"),
            "prime, two lines": _sandbox_order(sandbox, [tent, stakes], is_prime=True, ship_service_level="Expedited"),
            "business": _sandbox_order(sandbox, [{**stakes, "quantity": 10}], is_business=True),
            "partially shipped": _sandbox_order(sandbox, [{**tent, "quantity": 2}, stakes]),
            "cancelled by the buyer": _sandbox_order(sandbox, [stakes]),
        }
        print(f"placed {len(orders)} orders on Amazon (the sandbox): {', '.join(orders)}")
        time.sleep(1)  # let the first revisions arrive before the changes below
        _ship_one_unit(sandbox, orders["partially shipped"])
        cancelled = orders["cancelled by the buyer"]
        cancel_request = {"buyer_cancel_request": True, "reason": "Ordered the wrong size"}
        sandbox.post(f"/_sandbox/orders/{cancelled}/transition", json=cancel_request).raise_for_status()
        sandbox.post(f"/_sandbox/orders/{cancelled}/transition", json={"status": "Canceled"}).raise_for_status()
        print("the seller shipped one tent of the partially shipped order; the buyer cancelled an order")

    keys = set(orders.values())
    shipped = orders["partially shipped"]

    def all_arrived(events: list[Any]) -> bool:
        ids = {e.data.amazon_order_id for e in events}
        return ids == keys and any(
            e.data.amazon_order_id == shipped and e.data.status == "PartiallyShipped" for e in events
        )

    received = asyncio.run(_read_events("order.received", keys, all_arrived))
    cancellations = asyncio.run(_read_events("order.cancelled", {cancelled}, bool))
    with httpx.Client(base_url=SANDBOX, timeout=30) as sandbox:
        print(f"ORDER_CHANGE notifications Amazon put on the SQS queue: {_notifications_through_sqs(sandbox)}")
    label = {v: k for k, v in orders.items()}
    print(f"order.received: {len(received)} events")
    for event in received:
        d = event.data
        lines = ", ".join(f"{line.quantity_ordered}x {line.product_code} ({line.quantity_shipped} shipped, "
                          f"{line.item_price.amount} {line.item_price.currency})" for line in d.lines)  # fmt: skip
        print(f"  {d.amazon_order_id} [{label[d.amazon_order_id]}] {d.status} rev {d.last_update_date:%H:%M:%S.%f}"
              f" prime={d.is_prime} business={d.is_business_order} ship={d.ship_service_level_category}"
              f"->{d.internal_ship_method} buyer={d.buyer_ref[:14]}… lines: {lines}")  # fmt: skip
    print(f"order.cancelled: {len(cancellations)} event(s)")
    for event in cancellations:
        print(
            f"  {event.data.amazon_order_id} cancelled by {event.data.cancelled_by}: {event.data.buyer_cancel_reason}"
        )
    missing = keys - {e.data.amazon_order_id for e in received}
    if missing or not cancellations:
        sys.exit(f"not every order arrived (missing {sorted(missing)}, cancellations {len(cancellations)}):"
                 " see .run/logs/orders-ingest.log")  # fmt: skip

    with httpx.Client(base_url=ORDERS_INGEST, headers={"authorization": f"Bearer {admin_token('viewer')}"},
                      timeout=30) as api:  # fmt: skip
        runs = api.get("/admin/sync-runs", params={"connection_id": connection_id, "limit": 20})
        runs.raise_for_status()
    print("orders-ingest sync history (newest first):")
    for run in runs.json():
        print(f"  run {run['id']:>4} {run['trigger']:<13} {run['status']:<9} published {run['records_published']:>2}"
              f" unchanged {run['records_unchanged']:>2} skipped {run['records_skipped']:>2}"
              f" failed {run['records_failed']:>2}  {run['started_at']}")  # fmt: skip


def map_ship_methods(connection_id: str) -> None:
    """An operator maps Amazon's ship service levels to the warehouse's methods (published as connection.updated)."""
    mapping = {"Standard": "GROUND", "Expedited": "2DAY", "NextDay": "OVERNIGHT", "SecondDay": "2DAY"}
    with admin_api("operator") as api:
        answer = api.patch(f"/admin/connections/{connection_id}/settings", json={"ship_method_mapping": mapping})
        answer.raise_for_status()
    print(f"ship-method mapping set: {mapping}")


def main() -> None:
    connection_id = connect_seller()
    map_ship_methods(connection_id)
    show_connection(connection_id)
    test_connection(connection_id)
    ingest_orders(connection_id)
    __import__("demo_pii_redactor").run(connection_id)
    __import__("demo_catalog_sync").run(connection_id)
    __import__("demo_stock_publisher").run(connection_id)
    __import__("demo_shipment_relay").run(connection_id)


if __name__ == "__main__":
    main()
