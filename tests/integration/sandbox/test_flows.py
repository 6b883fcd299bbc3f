"""End-to-end flows over real HTTP: consent and tokens, orders and notifications, feeds, reports, faults."""

from __future__ import annotations

import gzip
import http.server
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from testkit import eventually_sync
from testkit.sandbox import Sandbox

CLIENT = {"client_id": "amzn1.application-oa2-client.test", "client_secret": "secret"}


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/order-change", received
    server.shutdown()


def test_consent_page_then_code_exchange(sandbox: Sandbox) -> None:
    query = {
        "application_id": "amzn1.sp.solution.test",
        "state": "csrf-123",
        "version": "beta",
        "redirect_uri": "https://connector.example/callback",
    }
    page = sandbox.client.get("/apps/authorize/consent", params=query)
    assert page.status_code == 200
    assert "<form" in page.text and "Approve" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    approved = sandbox.client.post(
        "/apps/authorize/consent", data={**query, "decision": "approve", "selling_partner_id": sandbox.seller_id}
    )
    assert approved.status_code == 302
    location = urlsplit(approved.headers["location"])
    returned = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}{location.path}" == query["redirect_uri"]
    assert returned["state"] == "csrf-123" and returned["selling_partner_id"] == sandbox.seller_id
    tokens = sandbox.client.post(
        "/auth/o2/token",
        data={
            "grant_type": "authorization_code",
            "code": returned["spapi_oauth_code"],
            "redirect_uri": query["redirect_uri"],
            **CLIENT,
        },
    ).json()
    access = sandbox.client.post(
        "/auth/o2/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], **CLIENT}
    ).json()["access_token"]
    participations = sandbox.client.get("/sellers/v1/marketplaceParticipations", headers={"x-amz-access-token": access})
    assert participations.json()["payload"][0]["marketplace"]["id"] == "ATVPDKIKX0DER"


def test_auto_approve_redirects_at_once_and_bad_redirects_are_refused(sandbox: Sandbox) -> None:
    query = {
        "application_id": "amzn1.sp.solution.test",
        "state": "s",
        "redirect_uri": "http://localhost:9/cb?x=1",
        "auto_approve": "true",
    }
    answer = sandbox.client.get("/apps/authorize/consent", params=query)
    assert answer.status_code == 302
    assert answer.headers["location"].startswith("http://localhost:9/cb?x=1&state=s&selling_partner_id=")
    refused = sandbox.client.get("/apps/authorize/consent", params={**query, "redirect_uri": "javascript:alert(1)"})
    assert refused.status_code == 400


def test_order_lifecycle_with_notifications(sandbox: Sandbox, receiver: tuple[str, list[dict[str, Any]]]) -> None:
    url, received = receiver
    sandbox.notify_to(url)
    sandbox.create_listing("SKU-A", quantity=10, handling_time=2)
    order = sandbox.create_order([{"sku": "SKU-A", "quantity": 2}], is_prime=True)
    headers = sandbox.headers()
    order_id, item_id = order["AmazonOrderId"], order["items"][0]["OrderItemId"]
    assert sandbox.listing("SKU-A")["quantity"] == 8

    def search() -> list[dict[str, Any]]:
        response = sandbox.client.get(
            "/orders/2026-01-01/orders",
            headers=headers,
            params={"lastUpdatedAfter": "2020-01-01T00:00:00Z", "includedData": "FULFILLMENT"},
        )
        assert response.status_code == 200, response.text
        return [o for o in response.json()["orders"] if o["orderId"] == order_id]

    # searchOrders allows a burst of 20, and orders show only after the visibility lag: poll gently.
    found = eventually_sync(search, interval=0.3)
    assert found[0]["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
    confirm = {
        "marketplaceId": "ATVPDKIKX0DER",
        "packageDetail": {
            "packageReferenceId": "1",
            "carrierCode": "UPS",
            "trackingNumber": "1Z999AA10123456784",
            "shipDate": "2026-08-06T15:04:05Z",
            "orderItems": [{"orderItemId": item_id, "quantity": 2}],
        },
    }
    shipped = sandbox.client.post(f"/orders/v0/orders/{order_id}/shipmentConfirmation", headers=headers, json=confirm)
    assert shipped.status_code == 204
    assert shipped.headers["x-amzn-RateLimit-Limit"] == "200"
    # Accepted at once, applied a little later (write_apply_seconds): wait before reading back, as against Amazon.
    eventually_sync(lambda: sandbox.order(order_id)["OrderStatus"] == "Shipped", interval=0.05)
    got = sandbox.client.get(
        f"/orders/2026-01-01/orders/{order_id}", headers=headers, params={"includedData": "PACKAGES,FULFILLMENT"}
    ).json()["order"]
    assert got["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert got["packages"][0]["trackingNumber"] == "1Z999AA10123456784"
    eventually_sync(lambda: len(received) == 2, interval=0.02)
    kinds = [(n["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"]) for n in received]
    assert kinds == ["Unshipped", "Shipped"]
    assert [e["kind"] for e in sandbox.ledger(order_id=order_id)] == ["shipment"]


def _submit_feed(sandbox: Sandbox, headers: dict[str, str], document: dict[str, Any], *, gzip_it: bool = False) -> str:
    created = sandbox.client.post(
        "/feeds/2021-06-30/documents", headers=headers, json={"contentType": "application/json; charset=UTF-8"}
    ).json()
    data = json.dumps(document).encode()
    upload = httpx.put(
        created["url"],
        content=gzip.compress(data) if gzip_it else data,
        headers={"content-type": "application/json; charset=UTF-8"},
    )
    assert upload.status_code == 200
    feed = sandbox.client.post(
        "/feeds/2021-06-30/feeds",
        headers=headers,
        json={
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": ["ATVPDKIKX0DER"],
            "inputFeedDocumentId": created["feedDocumentId"],
        },
    )
    assert feed.status_code == 202, feed.text
    return str(feed.json()["feedId"])


def _finished(sandbox: Sandbox, headers: dict[str, str], feed_id: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        feed = sandbox.client.get(f"/feeds/2021-06-30/feeds/{feed_id}", headers=headers).json()
        return feed if feed["processingStatus"] in ("DONE", "FATAL") else None

    result: dict[str, Any] = eventually_sync(done, interval=0.02)
    return result


def test_feed_pipeline_and_exactly_once_ledger(sandbox: Sandbox) -> None:
    sandbox.create_listing("SKU-1", quantity=1, handling_time=3)
    headers = sandbox.headers()
    document = {
        "header": {"sellerId": sandbox.seller_id, "version": "2.0"},
        "messages": [
            {
                "messageId": 1,
                "sku": "SKU-1",
                "operationType": "PATCH",
                "productType": "PRODUCT",
                "patches": [
                    {
                        "op": "merge",
                        "path": "/attributes/fulfillment_availability",
                        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 7}],
                    }
                ],
            },
            {
                "messageId": 2,
                "sku": "SKU-UNKNOWN",
                "operationType": "PATCH",
                "productType": "PRODUCT",
                "patches": [
                    {
                        "op": "merge",
                        "path": "/attributes/fulfillment_availability",
                        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 7}],
                    }
                ],
            },
        ],
    }
    feed = _finished(sandbox, headers, _submit_feed(sandbox, headers, document, gzip_it=True))
    assert feed["processingStatus"] == "DONE"
    result = sandbox.client.get(f"/feeds/2021-06-30/documents/{feed['resultFeedDocumentId']}", headers=headers).json()
    report = json.loads(gzip.decompress(httpx.get(result["url"]).content))
    assert report["summary"]["messagesAccepted"] == 1
    assert [i["sku"] for i in report["issues"]] == ["SKU-UNKNOWN"]
    assert [e["value"] for e in sandbox.ledger(sku="SKU-1", kind="quantity")] == [7]
    assert sandbox.listing("SKU-1")["handling_time"] == 3

    sandbox.fault(feed_outcome="FATAL", count=1)
    fatal = _finished(sandbox, headers, _submit_feed(sandbox, headers, document))
    assert fatal["processingStatus"] == "FATAL"
    assert [e["value"] for e in sandbox.ledger(sku="SKU-1", kind="quantity")] == [7]


def test_merchant_listings_report(sandbox: Sandbox) -> None:
    sandbox.create_listing("SKU-R1", quantity=4)
    sandbox.create_listing("SKU-R2", quantity=None, fulfillment="AFN")
    headers = sandbox.headers()
    created = sandbox.client.post(
        "/reports/2021-06-30/reports",
        headers=headers,
        json={"reportType": "GET_MERCHANT_LISTINGS_ALL_DATA", "marketplaceIds": ["ATVPDKIKX0DER"]},
    )
    assert created.status_code == 202

    def done() -> dict[str, Any] | None:
        report = sandbox.client.get(f"/reports/2021-06-30/reports/{created.json()['reportId']}", headers=headers)
        return report.json() if report.json()["processingStatus"] == "DONE" else None

    report = eventually_sync(done, interval=0.02)
    document = sandbox.client.get(f"/reports/2021-06-30/documents/{report['reportDocumentId']}", headers=headers).json()
    raw = httpx.get(document["url"]).content
    text = (gzip.decompress(raw) if document.get("compressionAlgorithm") == "GZIP" else raw).decode()
    rows = [
        dict(zip(text.splitlines()[0].split("\t"), line.split("\t"), strict=True)) for line in text.splitlines()[1:]
    ]
    by_sku = {row["seller-sku"]: row for row in rows}
    assert by_sku["SKU-R1"]["quantity"] == "4" and by_sku["SKU-R1"]["fulfillment-channel"] == "DEFAULT"
    assert by_sku["SKU-R2"]["fulfillment-channel"] == "AMAZON_NA"


def test_expired_and_revoked_tokens(sandbox: Sandbox) -> None:
    headers = sandbox.headers()
    sandbox.fault(token="expired")
    expired = sandbox.client.get("/sellers/v1/marketplaceParticipations", headers=headers)
    assert expired.status_code == 403
    assert "expired" in expired.json()["errors"][0]["details"]
    fresh = sandbox.headers()
    assert sandbox.client.get("/sellers/v1/marketplaceParticipations", headers=fresh).status_code == 200
    sandbox.fault(token="revoked")
    assert sandbox.client.get("/sellers/v1/marketplaceParticipations", headers=fresh).status_code == 403
    refused = sandbox.client.post(
        "/auth/o2/token", data={"grant_type": "refresh_token", "refresh_token": sandbox.refresh_token, **CLIENT}
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    sandbox.reset()
    assert sandbox.client.get("/sellers/v1/marketplaceParticipations", headers=sandbox.headers()).status_code == 200


def test_latency_and_throttling_are_visible(sandbox: Sandbox) -> None:
    headers = sandbox.headers()
    sandbox.fault(operation="getMarketplaceParticipations", latency_ms=200, count=1)
    started = time.monotonic()
    assert sandbox.client.get("/sellers/v1/marketplaceParticipations", headers=headers).status_code == 200
    assert time.monotonic() - started >= 0.2
    statuses = [
        sandbox.client.get("/sellers/v1/marketplaceParticipations", headers=headers).status_code for _ in range(20)
    ]
    assert 429 in statuses
    logged = sandbox.requests(operation="getMarketplaceParticipations", status=429)
    assert len(logged) == statuses.count(429)
    assert all(r["seller_id"] == sandbox.seller_id for r in logged)


def _confirm_body(order: dict[str, Any]) -> dict[str, Any]:
    item = order["items"][0]
    return {
        "marketplaceId": "ATVPDKIKX0DER",
        "packageDetail": {
            "packageReferenceId": "1",
            "carrierCode": "UPS",
            "trackingNumber": "1Z999AA10123456784",
            "shipDate": "2026-08-06T15:04:05Z",
            "orderItems": [{"orderItemId": item["OrderItemId"], "quantity": item["QuantityOrdered"]}],
        },
    }


def test_latency_after_applies_the_write_then_loses_the_answer(sandbox: Sandbox) -> None:
    sandbox.create_listing("SKU-LATE", quantity=5)
    order = sandbox.create_order([{"sku": "SKU-LATE", "quantity": 1}])
    order_id = order["AmazonOrderId"]
    headers, path = sandbox.headers(), f"/orders/v0/orders/{order_id}/shipmentConfirmation"
    sandbox.fault(operation="confirmShipment", latency_after_ms=1500, count=1)
    with httpx.Client(base_url=sandbox.url, timeout=0.3) as impatient, pytest.raises(httpx.TimeoutException):
        impatient.post(path, headers=headers, json=_confirm_body(order))
    # Amazon accepted it before the answer was lost, and applies it while the answer is still on its way.
    eventually_sync(lambda: [e["kind"] for e in sandbox.ledger(order_id=order_id)] == ["shipment"], interval=0.05)
    assert [r["status"] for r in sandbox.requests(operation="confirmShipment")] == [204]
    assert sandbox.order(order_id)["OrderStatus"] == "Shipped"
    # count=1: the next call answers at once; resending the package edits it and ships nothing more.
    started = time.monotonic()
    assert sandbox.client.post(path, headers=headers, json=_confirm_body(order)).status_code == 204
    assert time.monotonic() - started < 1.0
    eventually_sync(lambda: len(sandbox.ledger(order_id=order_id)) == 2, interval=0.05)
    assert [e["kind"] for e in sandbox.ledger(order_id=order_id)] == ["shipment", "shipment_update"]


def test_latency_before_applies_nothing_when_the_client_gives_up(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.create_listing("SKU-SLOW", quantity=5)
    order = sandbox.create_order([{"sku": "SKU-SLOW", "quantity": 1}])
    order_id = order["AmazonOrderId"]
    path = f"/orders/v0/orders/{order_id}/shipmentConfirmation"
    sandbox.fault(operation="confirmShipment", latency_ms=600, count=1)
    with caplog.at_level(logging.INFO, logger="spapi_sandbox.gateway"):
        with httpx.Client(base_url=sandbox.url, timeout=0.2) as impatient, pytest.raises(httpx.TimeoutException):
            impatient.post(path, headers=sandbox.headers(), json=_confirm_body(order))
        # The sandbox (a thread of this process) is done with the request once it has seen the client leave.
        eventually_sync(lambda: "confirmShipment: client disconnected" in caplog.text, timeout=10, interval=0.02)
    assert sandbox.ledger(order_id=order_id) == []
    assert sandbox.order(order_id)["OrderStatus"] == "Unshipped"
