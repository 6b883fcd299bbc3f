"""Buyer PII follows Amazon's rules (access-orders-pii): by role, fulfilment channel, status and delivery date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

DATASETS = {"includedData": "BUYER,RECIPIENT"}


async def _create(api: httpx.AsyncClient, **fields: Any) -> str:
    answer = await api.post("/_sandbox/orders", json={"items": [{"sku": "SKU-PII"}], **fields})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["AmazonOrderId"])


async def _read(api: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    order: dict[str, Any] = (await api.get(f"/orders/2026-01-01/orders/{order_id}", params=DATASETS)).json()["order"]
    return order


async def test_an_unshipped_merchant_order_shows_name_email_address_and_phone(api: httpx.AsyncClient) -> None:
    order = await _read(api, await _create(api))
    assert set(order["buyer"]) == {"buyerName", "buyerEmail"}
    assert {"name", "addressLine1", "phone"} <= set(order["recipient"]["deliveryAddress"])


async def test_the_email_only_while_unshipped_partially_shipped_or_shipped(api: httpx.AsyncClient) -> None:
    pending = await _create(api, status="Pending")
    cancelled = await _create(api)
    await api.post(f"/_sandbox/orders/{cancelled}/transition", json={"status": "Canceled"})
    assert "buyerEmail" not in (await _read(api, pending))["buyer"]
    assert "buyerEmail" not in (await _read(api, cancelled))["buyer"]
    assert "buyerName" in (await _read(api, cancelled))["buyer"]


async def test_fba_orders_have_no_email_and_no_phone(api: httpx.AsyncClient) -> None:
    order = await _read(api, await _create(api, fulfillment_channel="AFN"))
    assert "buyerEmail" not in order["buyer"] and "buyerName" in order["buyer"]
    address = order["recipient"]["deliveryAddress"]
    assert "phone" not in address and address["addressLine1"]


async def test_no_phone_once_the_latest_delivery_date_has_passed(api: httpx.AsyncClient) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    order = await _read(api, await _create(api, latest_delivery=past))
    address = order["recipient"]["deliveryAddress"]
    assert "phone" not in address and address["addressLine1"]
    assert "buyerEmail" in order["buyer"]


async def test_without_the_roles_amazon_withholds_name_email_and_street(api: httpx.AsyncClient) -> None:
    seller = (await api.get("/_sandbox/sellers/A1SANDBOXSELLER")).json()
    assert seller["pii_roles"] == ["DIRECT_TO_CONSUMER_DELIVERY", "TAX_INVOICING"]
    await api.post(
        "/_sandbox/sellers",
        json={"selling_partner_id": "A1SANDBOXSELLER", "marketplace_ids": ["ATVPDKIKX0DER"], "pii_roles": []},
    )
    order = await _read(api, await _create(api))
    assert order["buyer"] == {}
    assert set(order["recipient"]["deliveryAddress"]) == {"city", "stateOrRegion", "postalCode", "countryCode"}


async def test_tax_invoicing_alone_gives_the_name_but_not_email_or_street(api: httpx.AsyncClient) -> None:
    await api.post(
        "/_sandbox/sellers",
        json={
            "selling_partner_id": "A1SANDBOXSELLER",
            "marketplace_ids": ["ATVPDKIKX0DER"],
            "pii_roles": ["TAX_INVOICING"],
        },
    )
    order = await _read(api, await _create(api))
    assert set(order["buyer"]) == {"buyerName"}
    assert "addressLine1" not in order["recipient"]["deliveryAddress"]
