"""pii-redactor in `make demo`: an order's PII held encrypted, revealed with a reason (and its audit entry), then
redacted by moving the service's clock 30 days on (TEST_CLOCK_ENABLED, local only), and order.redacted on Kafka."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

import httpx
from demo import KAFKA, ROOT, SANDBOX, _read_events, _sandbox_order, admin_token

PII_REDACTOR = os.environ.get("PII_REDACTOR_URL", "http://127.0.0.1:18105")


def _api(role: str) -> httpx.Client:
    return httpx.Client(base_url=PII_REDACTOR, headers={"authorization": f"Bearer {admin_token(role)}"}, timeout=30)


def _wait(probe: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := probe():
            return found
        time.sleep(0.3)
    sys.exit(f"pii-redactor: {what} did not happen within {timeout:.0f} s; see .run/logs/pii-redactor.log")


async def _complete(connection_id: str, order_id: str) -> None:
    """The OMS closes the order: order.completed, as internal systems publish it."""
    from aiokafka import AIOKafkaProducer
    from contracts import OrderCompletedV1, encode, new_event

    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    payload = OrderCompletedV1(connection_id=connection_id, marketplace_id="ATVPDKIKX0DER", amazon_order_id=order_id,
                               status="completed", occurred_at=now)  # type: ignore[arg-type]  # fmt: skip
    record = encode(new_event("order.completed", payload, source="demo-oms", revision=now))
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA)
    await producer.start()
    try:
        await producer.send_and_wait(record.topic, record.value, key=record.key, headers=record.headers)
    finally:
        await producer.stop()


def run(connection_id: str) -> None:
    print("\n== pii-redactor: the buyer PII vault ==")
    with httpx.Client(base_url=SANDBOX, timeout=30) as sandbox:
        order_id = _sandbox_order(sandbox, [{"sku": "TENT-2P-GRN", "quantity": 1, "price": "129.99"}])
    print(f"placed order {order_id} on Amazon (the sandbox)")

    with _api("viewer") as viewer:

        def held() -> dict[str, Any] | None:
            answer = viewer.get(f"/admin/orders/{order_id}", params={"connection_id": connection_id})
            return answer.json() if answer.status_code == 200 and answer.json()["pii"]["buyer_name"] else None

        view = _wait(held, "the order reaching the vault")
        shown = {k: v for k, v in view["pii"].items() if v}
        print(f"GET /admin/orders/{order_id}: status {view['status']}, PII {shown}")
        print(f"  redact at {view['redact_at']} ({view['redact_basis']}: no completion yet)")

    with _api("pii_reader") as reader:
        reason = "demo: check the label address"
        answer = reader.get(f"/admin/orders/{order_id}/pii", params={"reason": reason, "connection_id": connection_id})
        answer.raise_for_status()
        pii = answer.json()["pii"]
        ship_to = pii.get("ship_to", {})
        print(f"revealed (pii_reader, reason {reason!r}): {pii.get('buyer_name')}, {ship_to.get('city')} "
              f"{ship_to.get('postal_code')} {ship_to.get('country_code')}")  # fmt: skip
    with _api("admin") as admin:
        entries = [json.loads(line) for line in admin.get("/admin/audit-log").text.splitlines()]
        entry = next(e for e in reversed(entries) if e["amazon_order_id"] == order_id)
        print(f"audit entry: {entry['at']} {entry['actor']} {entry['action']} {entry['outcome']} — {entry['reason']}")

    asyncio.run(_complete(connection_id, order_id))
    with _api("viewer") as viewer:

        def completed() -> dict[str, Any] | None:
            found = viewer.get(f"/admin/orders/{order_id}", params={"connection_id": connection_id}).json()
            return found if found["completed_at"] else None

        view = _wait(completed, "order.completed reaching the vault")
        print(f"order.completed at {view['completed_at']}: redact at {view['redact_at']} ({view['redact_basis']})")

    with _api("operator") as operator:
        moved = operator.post("/admin/test/clock", json={"days": 30.01})
        if moved.status_code == 404:
            sys.exit("pii-redactor: POST /admin/test/clock is off (TEST_CLOCK_ENABLED); restart it with `make up`")
        moved.raise_for_status()
        print(f"moved pii-redactor's clock 30 days on (test hook): now {moved.json()['now']}")

    with _api("viewer") as viewer:

        def redacted() -> dict[str, Any] | None:
            found = viewer.get(f"/admin/orders/{order_id}", params={"connection_id": connection_id}).json()
            return found if found["redacted_at"] else None

        view = _wait(redacted, "the redaction")
        print(f"GET /admin/orders/{order_id}: redacted at {view['redacted_at']}, PII {set(view['pii'].values())}")
        counts = viewer.get("/admin/redactions").json()["counts"]
        print(f"GET /admin/redactions: {counts}")
    with _api("pii_reader") as reader:
        gone = reader.get(f"/admin/orders/{order_id}/pii", params={"reason": "demo: after redaction",
                                                                  "connection_id": connection_id})  # fmt: skip
        print(f"reveal after redaction: HTTP {gone.status_code}")
    events = asyncio.run(_read_events("order.redacted", {order_id}, bool))
    for event in events:
        print(f"order.redacted on Kafka: {event.data.amazon_order_id} {event.data.reason} at {event.data.redacted_at}")
    values = [pii.get("buyer_name"), pii.get("buyer_email"), ship_to.get("address_line1"), ship_to.get("phone")]
    _search_for_pii([v for v in values if v])


def _search_for_pii(values: list[str]) -> None:
    """The proof: the revealed name, email, street and phone appear in no service log, vault row or outbox."""
    url = subprocess.run([str(ROOT / "infra/postgres/postgres.sh"), "url"], capture_output=True, text=True).stdout
    # Sent outbox rows of order.received keep their PII for up to a minute (messaging's keep_sent_pii): wait it out.
    deadline = time.monotonic() + 90
    while True:
        texts = {f"log {p.name}": p.read_text(errors="replace") for p in sorted((ROOT / ".run/logs").glob("*.log"))}
        texts.update(asyncio.run(_table_dumps(url.strip())))
        found = [f"{where}" for where, text in texts.items() for v in values if v in text]
        if not found or time.monotonic() > deadline:
            break
        time.sleep(5)
    print(f"searched {len(texts)} logs and tables for the buyer's name, email, street and phone: "
          f"{'found in ' + ', '.join(sorted(set(found))) if found else 'none found'}")  # fmt: skip


async def _table_dumps(url: str) -> dict[str, str]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_name IN ('vault', 'outbox', 'audit_log') ORDER BY 1, 2"
        )
        return {
            f"table {t['table_schema']}.{t['table_name']}": "\n".join(
                str(dict(r)) for r in await conn.fetch(f'SELECT * FROM "{t["table_schema"]}"."{t["table_name"]}"')
            )
            for t in tables
        }
    finally:
        await conn.close()
