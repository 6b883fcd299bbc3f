"""Reveal, erasure and label access are role-checked and audited; no plaintext PII outside the ciphertext."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import contracts
from aiokafka import AIOKafkaProducer
from messaging import namespaced

from .harness import BUYER, SERVICE_TOKEN, Captured, days, order_completed, order_received, running

DONE = datetime(2026, 8, 10, 9, 0, tzinfo=UTC)


async def test_reveal_needs_the_pii_reader_role_and_a_reason_is_audited_and_answers_410_after_redaction(
    database_url: str, kafka_bootstrap: str, namespace: str, producer: AIOKafkaProducer
) -> None:
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, namespace=namespace) as h:
        order, erased = "113-0000001-0000001", "113-0000001-0000002"
        await h.send(producer, order_received(order), order_completed(order, DONE), order_received(erased))
        await h.until_due(order, DONE + days(30))
        await h.until(erased, "sealed")
        path = f"/admin/orders/{order}/pii"
        for role in ("viewer", "operator", "admin"):
            async with h.api(role) as api:
                assert (await api.get(path, params={"reason": "curious"})).status_code == 403
        async with h.api("pii_reader") as api:
            assert (await api.get(path)).status_code == 422
            assert (await api.get(f"/admin/orders/{order}")).status_code == 403  # a PII reader does nothing else
            shown = await api.get(path, params={"reason": "ticket 4711: wrong address"})
        assert shown.status_code == 200
        pii = shown.json()["pii"]
        assert pii["buyer_name"] == BUYER["name"] and pii["ship_to"]["address_line1"] == BUYER["street"]
        assert pii["ship_to"]["city"] == "Reno" and pii["buyer_email"] == BUYER["email"]

        async with h.api("viewer") as api:
            assert (
                await api.post(f"/admin/orders/{erased}/erasure", json={"reason": "buyer asked"})
            ).status_code == 403
        async with h.api("operator") as api:
            assert (
                await api.post(f"/admin/orders/{erased}/erasure", json={"reason": "buyer asked"})
            ).status_code == 200
            assert (await api.post(f"/admin/orders/{erased}/erasure", json={"reason": "again"})).status_code == 410

        h.at(DONE + days(30))
        assert await h.redact() == [order]
        async with h.api("pii_reader") as api:
            gone = await api.get(path, params={"reason": "after the fact"})
        assert gone.status_code == 410

        async with h.api("operator") as api:
            assert (await api.get("/admin/audit-log")).status_code == 403
        async with h.api("admin") as api:
            lines = [json.loads(x) for x in (await api.get("/admin/audit-log")).text.splitlines()]
            csv = (await api.get("/admin/audit-log", params={"format": "csv"})).text
        assert [(x["actor"], x["action"], x["amazon_order_id"], x["reason"], x["outcome"]) for x in lines] == [
            ("t-pii_reader", "reveal", order, "ticket 4711: wrong address", "revealed"),
            ("t-operator", "erasure", erased, "buyer asked", "erased"),
            ("t-operator", "erasure", erased, "again", "already redacted"),
            ("t-pii_reader", "reveal", order, "after the fact", "gone"),
        ]
        assert lines[3]["at"] == (DONE + days(30)).isoformat()
        assert csv.splitlines()[0].startswith("id,at,actor,action") and len(csv.splitlines()) == 5
        events = await h.redacted_events(expect=2)
        assert {(e.data.amazon_order_id, e.data.reason) for e in events} == {
            (erased, "deletion_request"),
            (order, "retention_elapsed"),
        }


async def test_the_label_endpoint_gives_the_address_to_a_service_token_only_and_audits_it(
    database_url: str, kafka_bootstrap: str, namespace: str, producer: AIOKafkaProducer
) -> None:
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, namespace=namespace) as h:
        order = "113-0000002-0000001"
        await h.send(producer, order_received(order))
        await h.until(order, "sealed")
        path = f"/internal/labels/conn-us-acme/{order}"
        async with h.api("admin") as api:
            assert (await api.get(path, params={"reason": "label"})).status_code == 401
        async with h.api("admin") as api:
            answer = await api.get(
                path, params={"reason": "label for SHP-9"}, headers={"authorization": f"Bearer {SERVICE_TOKEN}"}
            )
        assert answer.status_code == 200
        assert answer.json()["ship_to"]["address_line1"] == BUYER["street"]
        audit = await h.fetch("SELECT actor, action, reason FROM audit_log")
        assert [tuple(r) for r in audit] == [("service:warehouse", "label", "label for SHP-9")]


async def test_vault_outbox_dead_letters_and_logs_hold_no_plaintext_pii(
    database_url: str, kafka_bootstrap: str, namespace: str, producer: AIOKafkaProducer
) -> None:
    captured = Captured()
    root = logging.getLogger()
    level = root.level
    root.addHandler(captured)
    root.setLevel(logging.INFO)
    try:
        async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, namespace=namespace) as h:
            held, redacted = "113-0000003-0000001", "113-0000003-0000002"
            await h.send(producer, order_received(held), order_received(redacted), order_completed(redacted, DONE))
            # A poison record that quotes the buyer: dead-lettered, and logged without its values.
            bad = json.loads(contracts.encode(order_received("113-0000003-0000003")).value or b"{}")
            bad["data"]["ship_to"]["country_code"] = f"not a country, {BUYER['name']}, {BUYER['street']}"
            await producer.send_and_wait(
                namespaced(namespace, "order.received"), json.dumps(bad).encode(), key=b"113-0000003-0000003"
            )
            await h.until(held, "sealed")
            await h.until_due(redacted, DONE + days(30))
            h.at(DONE + days(30))
            assert await h.redact() == [redacted]
            await h.redacted_events(expect=1)
            async with h.api("viewer") as api:
                views = [(await api.get(f"/admin/orders/{o}")).text for o in (held, redacted)]
                views.append((await api.get("/admin/redactions")).text)
            vault_dump = "\n".join(str(dict(r)) for r in await h.fetch("SELECT * FROM vault"))
            outbox_dump = "\n".join(str(dict(r)) for r in await h.fetch("SELECT * FROM outbox"))
    finally:
        root.removeHandler(captured)
        root.setLevel(level)
    assert held in vault_dump and "order.redacted" in outbox_dump
    assert any("dead" in line.lower() or "invalid" in line.lower() for line in captured.lines), captured.lines
    for where, text in {"vault": vault_dump, "outbox": outbox_dump, "logs": "\n".join(captured.lines),
                        "admin views": "\n".join(views)}.items():  # fmt: skip
        for what, value in BUYER.items():
            assert value not in text, f"the buyer's {what} is in the {where}"
