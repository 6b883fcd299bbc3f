"""Every operation we call, against the sandbox over HTTP, checked against what the sandbox recorded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import spapi
from spapi import IncludedData, ListingsPatch, SearchOrders
from testkit import eventually

SELLER = "A1SANDBOXSELLER"
MARKETPLACE = "ATVPDKIKX0DER"


async def add_listing(admin: httpx.AsyncClient, sku: str, quantity: int = 5, handling_time: int | None = 2) -> None:
    r = await admin.post("/_sandbox/listings", json={"sku": sku, "quantity": quantity, "handling_time": handling_time})
    r.raise_for_status()


async def add_order(admin: httpx.AsyncClient, items: list[dict]) -> dict:
    r = await admin.post("/_sandbox/orders", json={"items": items})
    r.raise_for_status()
    return r.json()


async def ledger(admin: httpx.AsyncClient, **query: str) -> list[dict]:
    r = await admin.get("/_sandbox/ledger", params=query)
    r.raise_for_status()
    return r.json()


def merge_quantity(sku: str, message_id: int, quantity: int) -> spapi.ListingsFeedMessage:
    return spapi.ListingsFeedMessage(
        message_id=message_id,
        sku=sku,
        operation_type="PATCH",
        product_type="PRODUCT",
        patches=[
            ListingsPatch(
                op="merge",
                path="/attributes/fulfillment_availability",
                value=[{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
            )
        ],
    )


async def test_marketplace_participations(amazon: spapi.SpApiClient):
    participations = await amazon.sellers.get_marketplace_participations()
    # Amazon lists the US's non-retail marketplaces too, also participating.
    assert [p.marketplace.id for p in participations] == [MARKETPLACE, "A2ZV50J4W1RKNI", "AHRY1CZE9ZY4H"]
    assert all(p.participation.is_participating for p in participations)


async def test_authorization_code_flow_yields_a_working_refresh_token(
    admin: httpx.AsyncClient, spapi_sandbox_url: str, lwa: spapi.LwaClient, http: httpx.AsyncClient
):
    consent = await admin.get(
        "/apps/authorize/consent",
        params={
            "application_id": "amzn1.sp.solution.test",
            "state": "csrf-123",
            "redirect_uri": "https://connector.example/callback",
            "auto_approve": "true",
        },
    )
    assert consent.status_code == 302
    query = {k: v[0] for k, v in parse_qs(urlsplit(consent.headers["location"]).query).items()}
    assert query["state"] == "csrf-123"
    tokens = await lwa.exchange_authorization_code(query["spapi_oauth_code"], "https://connector.example/callback")
    assert tokens.refresh_token is not None
    client = spapi.SpApiClient(
        endpoint=spapi_sandbox_url,
        selling_partner_id=query["selling_partner_id"],
        token_source=spapi.LwaTokenSource(lwa, tokens.refresh_token),
        http=http,
        limiter=spapi.RateLimiter(rate_scale=100),
    )
    assert await client.sellers.get_marketplace_participations()
    # The code is single-use, as at Amazon.
    with pytest.raises(spapi.AuthError) as caught:
        await lwa.exchange_authorization_code(query["spapi_oauth_code"], "https://connector.example/callback")
    assert caught.value.codes == ["invalid_grant"]


async def test_patch_and_get_listings_item(amazon: spapi.SpApiClient, admin: httpx.AsyncClient):
    await add_listing(admin, "WH/SKU 1", quantity=5, handling_time=3)
    request = spapi.ListingsItemPatchRequest(
        product_type="PRODUCT", patches=[merge_quantity("WH/SKU 1", 1, 7).patches[0]]
    )
    result = await amazon.listings.patch_listings_item("WH/SKU 1", request, marketplace_ids=[MARKETPLACE])
    assert result.accepted, result.issues

    async def applied() -> spapi.ListingsItem | None:
        # ACCEPTED is not applied: Amazon shows the change a little later, so read back until it does.
        item = await amazon.listings.get_listings_item(
            "WH/SKU 1",
            marketplace_ids=[MARKETPLACE],
            included_data=["summaries", "fulfillmentAvailability", "attributes"],
        )
        return item if item.fulfillment_availability[0].quantity == 7 else None

    item = await eventually(applied)
    assert item.fulfillment_availability == [
        spapi.FulfillmentAvailability(fulfillment_channel_code="DEFAULT", quantity=7)
    ]
    # merge kept the handling time the patch did not mention
    availability = item.attributes["fulfillment_availability"][0]
    assert availability.get("lead_time_to_ship_max_days") == 3
    entries = await ledger(admin, sku="WH/SKU 1", kind="quantity")
    assert [e["value"] for e in entries] == [7]


async def test_get_listings_item_for_an_unknown_sku_is_not_found(amazon: spapi.SpApiClient):
    with pytest.raises(spapi.NotFound) as caught:
        await amazon.listings.get_listings_item("NO-SUCH-SKU", marketplace_ids=[MARKETPLACE])
    assert caught.value.errors


async def test_search_orders_reads_every_page(amazon: spapi.SpApiClient, admin: httpx.AsyncClient):
    await add_listing(admin, "SKU-O")
    since = datetime.now(UTC) - timedelta(minutes=1)
    created = {(await add_order(admin, [{"sku": "SKU-O", "quantity": 1}]))["AmazonOrderId"] for _ in range(5)}
    filters = SearchOrders(
        created_after=since,
        marketplace_ids=[MARKETPLACE],
        max_results_per_page=2,
        included_data=[IncludedData.RECIPIENT, IncludedData.FULFILLMENT],
    )

    async def all_visible():
        # The sandbox, like Amazon, only shows orders older than its (scaled) two-minute horizon.
        orders = await amazon.orders.search_orders(filters)
        return orders if {o.order_id for o in orders} >= created else None

    # Each poll costs up to 3 searchOrders tokens (0.0056/s, burst 20 at Amazon), so poll gently.
    orders = await eventually(all_visible, timeout=10, interval=0.5)
    assert {o.order_id for o in orders} == created
    assert all(o.fulfillment is not None for o in orders)
    pages = [page async for page in amazon.orders.search_orders_pages(filters)]
    assert len(pages) == 3


async def test_get_order_with_included_data(amazon: spapi.SpApiClient, admin: httpx.AsyncClient):
    await add_listing(admin, "SKU-G")
    order_id = (await add_order(admin, [{"sku": "SKU-G", "quantity": 2}]))["AmazonOrderId"]
    order = await amazon.orders.get_order(
        order_id, included_data=[IncludedData.BUYER, IncludedData.RECIPIENT, IncludedData.FULFILLMENT]
    )
    assert order.order_id == order_id
    assert order.order_items[0].product.seller_sku == "SKU-G"
    assert order.order_items[0].quantity_ordered == 2
    assert order.fulfillment is not None and order.fulfillment.fulfillment_status == "UNSHIPPED"
    assert order.recipient is not None and order.recipient.delivery_address is not None
    with pytest.raises(spapi.NotFound):
        await amazon.orders.get_order("999-0000000-0000000")


def shipment(order: dict, reference: str, quantity: int, carrier: str = "UPS") -> spapi.ConfirmShipmentRequest:
    return spapi.ConfirmShipmentRequest(
        marketplace_id=MARKETPLACE,
        package_detail=spapi.PackageDetail(
            package_reference_id=reference,
            carrier_code=carrier,
            tracking_number=f"1Z{reference}",
            ship_date=datetime.now(UTC),
            order_items=[
                spapi.ConfirmShipmentOrderItem(order_item_id=order["items"][0]["OrderItemId"], quantity=quantity)
            ],
        ),
    )


async def test_confirm_shipment_partial_then_full(amazon: spapi.SpApiClient, admin: httpx.AsyncClient):
    await add_listing(admin, "SKU-S", quantity=10)
    order = await add_order(admin, [{"sku": "SKU-S", "quantity": 3}])
    order_id = order["AmazonOrderId"]

    async def status() -> str | None:
        got = await amazon.orders.get_order(order_id, included_data=[IncludedData.FULFILLMENT])
        return got.fulfillment.fulfillment_status if got.fulfillment else None

    async def becomes(wanted: str) -> bool:
        return await status() == wanted

    # confirmShipment answers 204 on acceptance; the order shows it a little later.
    await amazon.orders_v0.confirm_shipment(order_id, shipment(order, "1", 1))
    await eventually(lambda: becomes("PARTIALLY_SHIPPED"))
    await amazon.orders_v0.confirm_shipment(order_id, shipment(order, "2", 2))
    await eventually(lambda: becomes("SHIPPED"))
    entries = await ledger(admin, order_id=order_id, kind="shipment")
    assert [e["ref"] for e in entries] == ["1", "2"]


async def test_confirm_shipment_rules_come_back_as_invalid_input(amazon: spapi.SpApiClient, admin: httpx.AsyncClient):
    await add_listing(admin, "SKU-R", quantity=10)
    order = await add_order(admin, [{"sku": "SKU-R", "quantity": 1}])
    with pytest.raises(spapi.InvalidInput) as too_many:
        await amazon.orders_v0.confirm_shipment(order["AmazonOrderId"], shipment(order, "1", 5))
    assert too_many.value.status == 400 and too_many.value.codes == ["InvalidInput"]
    with pytest.raises(spapi.InvalidInput) as bad_carrier:
        await amazon.orders_v0.confirm_shipment(order["AmazonOrderId"], shipment(order, "1", 1, carrier="Pigeon"))
    assert "carrierCode" in bad_carrier.value.errors[0].message
    assert await ledger(admin, order_id=order["AmazonOrderId"]) == []
    # Nothing was retried: one request per refusal.
    refused = (await admin.get("/_sandbox/requests", params={"operation": "confirmShipment"})).json()
    assert [r["status"] for r in refused] == [400, 400]


async def test_feed_pipeline_end_to_end(amazon: spapi.SpApiClient, admin: httpx.AsyncClient):
    await add_listing(admin, "SKU-F1", quantity=1)
    await add_listing(admin, "SKU-F2", quantity=1)
    feed = spapi.ListingsFeed(
        header=spapi.ListingsFeedHeader(seller_id=SELLER),
        messages=[merge_quantity("SKU-F1", 1, 11), merge_quantity("SKU-F2", 2, 22), merge_quantity("SKU-NOPE", 3, 5)],
    )
    feed_id = await amazon.feeds.submit_feed(
        spapi.JSON_LISTINGS_FEED, feed.to_bytes(), content_type=spapi.JSON_CONTENT_TYPE, marketplace_ids=[MARKETPLACE]
    )
    done = await amazon.feeds.wait_for_feed(feed_id, poll_interval=0.05, timeout=30)
    assert done.processing_status == "DONE"
    report = await amazon.feeds.get_processing_report(done)
    assert report is not None
    assert report.summary.messages_processed == 3
    assert report.summary.messages_accepted == 2
    assert [(i.message_id, i.severity) for i in report.issues if i.severity == "ERROR"] == [(3, "ERROR")]
    assert [e["value"] for e in await ledger(admin, sku="SKU-F1", kind="quantity")] == [11]
    assert [e["value"] for e in await ledger(admin, sku="SKU-F2", kind="quantity")] == [22]


async def test_upload_with_a_different_content_type_is_refused(amazon: spapi.SpApiClient):
    document = await amazon.feeds.create_feed_document(spapi.JSON_CONTENT_TYPE)
    with pytest.raises(spapi.SpApiError) as caught:
        await amazon.feeds.upload_feed_document(document, b"{}", "text/plain")
    assert caught.value.status is not None and 400 <= caught.value.status < 500


async def test_feed_document_download_is_gzip_aware(amazon: spapi.SpApiClient, admin: httpx.AsyncClient):
    await add_listing(admin, "SKU-Z", quantity=1)
    feed = spapi.ListingsFeed(
        header=spapi.ListingsFeedHeader(seller_id=SELLER), messages=[merge_quantity("SKU-Z", 1, 3)]
    )
    feed_id = await amazon.feeds.submit_feed(
        spapi.JSON_LISTINGS_FEED, feed.to_bytes(), content_type=spapi.JSON_CONTENT_TYPE, marketplace_ids=[MARKETPLACE]
    )
    done = await amazon.feeds.wait_for_feed(feed_id, poll_interval=0.05, timeout=30)
    assert done.result_feed_document_id is not None
    document = await amazon.feeds.get_feed_document(done.result_feed_document_id)
    assert document.compression_algorithm == "GZIP"
    body = await amazon.feeds.download_feed_document(document)
    assert json.loads(body)["header"]["feedId"] == feed_id


async def test_report_pipeline(amazon: spapi.SpApiClient, admin: httpx.AsyncClient):
    await add_listing(admin, "SKU-REP", quantity=4)
    report_id = await amazon.reports.create_report(
        spapi.CreateReportSpecification(report_type="GET_MERCHANT_LISTINGS_ALL_DATA", marketplace_ids=[MARKETPLACE])
    )
    report = await amazon.reports.wait_for_report(report_id, poll_interval=0.05, timeout=30)
    assert report.processing_status == "DONE" and report.report_document_id is not None
    document = await amazon.reports.get_report_document(report.report_document_id)
    # A US report names UTF-8 (the default when a download names no charset).
    rows = (await amazon.reports.download_report_text(document)).splitlines()
    header = rows[0].split("\t")
    assert "seller-sku" in header and "quantity" in header
    by_sku = {r.split("\t")[header.index("seller-sku")]: r.split("\t") for r in rows[1:]}
    assert by_sku["SKU-REP"][header.index("quantity")] == "4"


async def test_a_german_report_is_cp1252_named_only_in_the_download_content_type(
    amazon: spapi.SpApiClient, admin: httpx.AsyncClient
):
    germany = "A1PA6795UKMFR9"
    seller = {"selling_partner_id": SELLER, "marketplace_ids": [MARKETPLACE, germany]}
    (await admin.post("/_sandbox/sellers", json=seller)).raise_for_status()
    name = "Zelt für 2 \u2013 Größe M, 5 €"
    listing = {"sku": "SKU-DE", "quantity": 3, "marketplace_id": germany, "item_name": name}
    (await admin.post("/_sandbox/listings", json=listing)).raise_for_status()
    report_id = await amazon.reports.create_report(
        spapi.CreateReportSpecification(report_type="GET_MERCHANT_LISTINGS_ALL_DATA", marketplace_ids=[germany])
    )
    report = await amazon.reports.wait_for_report(report_id, poll_interval=0.05, timeout=30)
    assert report.report_document_id is not None
    document = await amazon.reports.get_report_document(report.report_document_id)
    raw = await amazon.reports.download_report_document(document)
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # a client that assumed UTF-8 would fail (or garble the umlauts)
    assert name.encode("cp1252") in raw

    rows = (await amazon.reports.download_report_text(document)).splitlines()
    header = rows[0].split("\t")
    (row,) = [r.split("\t") for r in rows[1:]]
    assert row[header.index("item-name")] == name and row[header.index("seller-sku")] == "SKU-DE"
