"""PII-minimal delivery end to end: orders-ingest publishes no PII, the warehouse gets the label address from
pii-redactor, which reads it from Amazon (the sandbox), audits it, and holds it for redaction like any other."""

from __future__ import annotations

import spapi
from aiokafka import AIOKafkaProducer
from testkit.sandbox import SPEEDUP, Sandbox

from ..orders_ingest import harness as ingest
from .harness import SERVICE_TOKEN, running


async def test_order_received_carries_no_pii_and_the_label_endpoint_returns_the_address_audited(
    database_url: str, kafka_bootstrap: str, namespace: str, producer: AIOKafkaProducer, sandbox: Sandbox
) -> None:
    buyer = {"buyerName": "Avery Quinlan", "buyerEmail": "aq7x@marketplace.sandbox.invalid"}
    placed = sandbox.create_order([{"sku": "TENT-2P", "quantity": 1, "price": "10.00"}], buyer=buyer)
    order_id = placed["AmazonOrderId"]
    await sandbox.until_searchable(placed)
    token = sandbox.access_token()
    topics = ingest.Topicset(namespace)
    async with (
        running(
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            namespace=namespace,
            token_sources=lambda _connection_id: spapi.StaticTokenSource(token),
            spapi_endpoint_url=sandbox.url,
            sandbox_speedup=SPEEDUP,
        ) as h,
        ingest.running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as i,
    ):
        await i.connect(producer, "conn-minimal", pii_minimal_delivery=True)
        received = [e for e in await i.received(expect=1) if e.data.amazon_order_id == order_id]
        assert received, "orders-ingest published nothing for the order"
        data = received[0].data
        assert (data.buyer_name, data.buyer_email, data.ship_to) == (None, None, None)
        assert data.pii_reference == f"urn:amazon-connector:pii:conn-minimal:{order_id}"
        raw = b"".join(r.value or b"" for r in await ingest.read_topic(kafka_bootstrap, topics.received, expect=1))
        assert b"Avery" not in raw and b"aq7x" not in raw

        row = await h.until(order_id, "pii_reference")
        assert row["sealed"] is None
        path = f"/internal/labels/conn-minimal/{order_id}"
        async with h.api("admin") as api:
            headers = {"authorization": f"Bearer {SERVICE_TOKEN}"}
            label = await api.get(path, params={"reason": "label for SHP-1"}, headers=headers)
            again = await api.get(path, params={"reason": "label reprint"}, headers=headers)
        assert label.status_code == 200, label.text
        ship_to = label.json()["ship_to"]
        assert ship_to["address_line1"] and ship_to["country_code"]
        assert again.json()["ship_to"] == ship_to
        row = await h.row(order_id)
        assert row and row["sealed"] is not None and "ship_to.address_line1" in row["pii_fields"]
        audit = await h.fetch("SELECT actor, action, reason, outcome FROM audit_log ORDER BY id")
        assert [tuple(r) for r in audit] == [
            ("service:warehouse", "label", "label for SHP-1", "revealed from Amazon"),
            ("service:warehouse", "label", "label reprint", "revealed"),
        ]
