"""Each operation sends what Amazon's model asks for and reads what it returns (MockTransport)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import jsonschema
import pytest
import spapi
from spapi import IncludedData, ListingsItemPatchRequest, ListingsPatch, SearchOrders
from spapi_fakes import SELLER, ok

MODELS = Path("/work/shared/spapi-models")


def validate(model_file: str, definition: str, instance: object) -> None:
    definitions = json.loads((MODELS / model_file).read_text())["definitions"]
    schema = {"$ref": f"#/definitions/{definition}", "definitions": definitions}
    jsonschema.Draft4Validator(schema).validate(instance)


def order(order_id: str) -> dict:
    return {
        "orderId": order_id,
        "createdTime": "2026-01-01T00:00:00Z",
        "lastUpdatedTime": "2026-01-01T01:00:00Z",
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": "ATVPDKIKX0DER"},
        "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT"},
        "orderItems": [{"orderItemId": "1", "quantityOrdered": 2, "product": {"sellerSku": "SKU-1"}}],
    }


async def test_search_orders_follows_every_page_and_keeps_the_filters(make_client):
    h = make_client(
        ok({"orders": [order("1"), order("2")], "pagination": {"nextToken": "page-2"}}),
        ok({"orders": [order("3")], "pagination": {"nextToken": "page-3"}}),
        ok({"orders": [order("4")], "createdBefore": "2026-01-02T00:00:00Z"}),
    )
    filters = SearchOrders(
        last_updated_after=datetime(2026, 1, 1, tzinfo=UTC),
        marketplace_ids=["ATVPDKIKX0DER"],
        fulfillment_statuses=[spapi.FulfillmentStatus.UNSHIPPED, spapi.FulfillmentStatus.PARTIALLY_SHIPPED],
        included_data=[IncludedData.RECIPIENT, IncludedData.FULFILLMENT],
        max_results_per_page=2,
    )
    orders = await h.client.orders.search_orders(filters)
    assert [o.order_id for o in orders] == ["1", "2", "3", "4"]
    params = [dict(r.url.params) for r in h.recorder.requests]
    assert [p.get("paginationToken") for p in params] == [None, "page-2", "page-3"]
    for p in params:
        assert p["lastUpdatedAfter"] == "2026-01-01T00:00:00Z"
        assert p["includedData"] == "RECIPIENT,FULFILLMENT"
        assert p["fulfillmentStatuses"] == "UNSHIPPED,PARTIALLY_SHIPPED"
        assert p["marketplaceIds"] == "ATVPDKIKX0DER"
        assert p["maxResultsPerPage"] == "2"
    assert {r.url.path for r in h.recorder.requests} == {"/orders/2026-01-01/orders"}


def test_search_orders_needs_exactly_one_time_filter():
    with pytest.raises(ValueError):
        SearchOrders(marketplace_ids=["ATVPDKIKX0DER"])
    with pytest.raises(ValueError):
        SearchOrders(
            created_after=datetime(2026, 1, 1, tzinfo=UTC), last_updated_after=datetime(2026, 1, 1, tzinfo=UTC)
        )
    with pytest.raises(ValueError):
        SearchOrders(
            created_after=datetime(2026, 1, 1, tzinfo=UTC), last_updated_before=datetime(2026, 1, 2, tzinfo=UTC)
        )
    with pytest.raises(ValueError):
        SearchOrders(created_after=datetime(2026, 1, 1))  # naive timestamps are ambiguous


async def test_get_order_escapes_the_id_and_sends_included_data(make_client):
    h = make_client(ok({"order": order("902-1845936-5435065")}))
    got = await h.client.orders.get_order(
        "902-1845936-5435065", included_data=[IncludedData.BUYER, IncludedData.PACKAGES]
    )
    request = h.recorder.requests[0]
    assert request.method == "GET"
    assert request.url.path == "/orders/2026-01-01/orders/902-1845936-5435065"
    assert request.url.params["includedData"] == "BUYER,PACKAGES"
    assert request.headers["x-amz-access-token"]
    assert request.headers["user-agent"].startswith("amazon-connector-spapi/")
    assert got.order_items[0].product.seller_sku == "SKU-1"


async def test_confirm_shipment_body_is_valid_against_the_v0_model(make_client):
    h = make_client(ok(status=204))
    request = spapi.ConfirmShipmentRequest(
        marketplace_id="ATVPDKIKX0DER",
        package_detail=spapi.PackageDetail(
            package_reference_id="1",
            carrier_code="Other",
            carrier_name="Local Courier",
            shipping_method="Ground",
            tracking_number="TRK1",
            ship_date=datetime(2026, 1, 2, 15, 30, tzinfo=UTC),
            order_items=[spapi.ConfirmShipmentOrderItem(order_item_id="79039765272157", quantity=1)],
        ),
    )
    assert await h.client.orders_v0.confirm_shipment("902-1106328-1059050", request) is None
    sent = h.recorder.requests[0]
    assert sent.method == "POST"
    assert sent.url.path == "/orders/v0/orders/902-1106328-1059050/shipmentConfirmation"
    body = json.loads(sent.content)
    validate("ordersV0.json", "ConfirmShipmentRequest", body)
    assert body["packageDetail"]["shipDate"] == "2026-01-02T15:30:00Z"


def test_carrier_other_needs_a_carrier_name():
    with pytest.raises(ValueError):
        spapi.PackageDetail(
            package_reference_id="1",
            carrier_code="Other",
            tracking_number="T",
            ship_date=datetime(2026, 1, 2, tzinfo=UTC),
            order_items=[],
        )


async def test_feed_pipeline_uploads_with_matching_content_type_and_reads_gzip_report(make_client):
    report = {
        "header": {"sellerId": SELLER, "version": "2.0", "feedId": "F1"},
        "issues": [],
        "summary": {"errors": 0, "warnings": 0, "messagesProcessed": 1, "messagesAccepted": 1, "messagesInvalid": 0},
    }
    h = make_client(
        ok({"feedDocumentId": "D1", "url": "https://s3.example/upload?sig=abc"}, status=201),
        ok(status=200),  # the presigned PUT
        ok({"feedId": "F1"}, status=202),
        ok(
            {
                "feedId": "F1",
                "feedType": "JSON_LISTINGS_FEED",
                "createdTime": "2026-01-01T00:00:00Z",
                "processingStatus": "DONE",
                "resultFeedDocumentId": "R1",
            }
        ),
        ok({"feedDocumentId": "R1", "url": "https://s3.example/report?sig=def", "compressionAlgorithm": "GZIP"}),
        httpx.Response(200, content=gzip.compress(json.dumps(report).encode())),
    )
    feed_doc = spapi.ListingsFeed(
        header=spapi.ListingsFeedHeader(seller_id=SELLER),
        messages=[
            spapi.ListingsFeedMessage(
                message_id=1,
                sku="SKU-1",
                operation_type="PATCH",
                product_type="PRODUCT",
                patches=[
                    ListingsPatch(
                        op="merge",
                        path="/attributes/fulfillment_availability",
                        value=[{"fulfillment_channel_code": "DEFAULT", "quantity": 7}],
                    )
                ],
            )
        ],
    )
    content = feed_doc.to_bytes()
    jsonschema.Draft7Validator(json.loads((MODELS / "listings-feed-schema-v2.json").read_text())).validate(
        json.loads(content)
    )

    feed_id = await h.client.feeds.submit_feed(
        spapi.JSON_LISTINGS_FEED, content, content_type=spapi.JSON_CONTENT_TYPE, marketplace_ids=["ATVPDKIKX0DER"]
    )
    feed = await h.client.feeds.get_feed(feed_id)
    parsed = await h.client.feeds.get_processing_report(feed)

    create_doc, upload, create_feed, get_feed, get_doc, download = h.recorder.requests
    assert (create_doc.method, create_doc.url.path) == ("POST", "/feeds/2021-06-30/documents")
    validate("feeds_2021-06-30.json", "CreateFeedDocumentSpecification", json.loads(create_doc.content))
    assert json.loads(create_doc.content)["contentType"] == spapi.JSON_CONTENT_TYPE
    assert (upload.method, str(upload.url)) == ("PUT", "https://s3.example/upload?sig=abc")
    assert upload.headers["content-type"] == spapi.JSON_CONTENT_TYPE
    assert "x-amz-access-token" not in upload.headers
    assert upload.content == content
    body = json.loads(create_feed.content)
    validate("feeds_2021-06-30.json", "CreateFeedSpecification", body)
    assert body == {"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": ["ATVPDKIKX0DER"], "inputFeedDocumentId": "D1"}
    assert get_feed.url.path == "/feeds/2021-06-30/feeds/F1"
    assert get_doc.url.path == "/feeds/2021-06-30/documents/R1"
    assert "x-amz-access-token" not in download.headers
    assert parsed is not None and parsed.summary.messages_accepted == 1


async def test_json_listings_feed_has_its_own_rate_limit_bucket(make_client):
    h = make_client(ok({"feedId": "F1"}, status=202), ok({"feedId": "F2"}, status=202))
    spec = spapi.CreateFeedSpecification(
        feed_type="JSON_LISTINGS_FEED", marketplace_ids=["ATVPDKIKX0DER"], input_feed_document_id="D"
    )
    await h.client.feeds.create_feed(spec)
    await h.client.feeds.create_feed(spec.model_copy(update={"feed_type": "POST_ORDER_ACKNOWLEDGEMENT_DATA"}))
    limiter = h.client.limiter
    assert ("A1EXAMPLESELLER", "feeds.createFeed:JSON_LISTINGS_FEED") in limiter._buckets
    assert ("A1EXAMPLESELLER", "feeds.createFeed") in limiter._buckets


async def test_download_without_compression_returns_bytes_as_is(make_client):
    h = make_client(
        ok({"reportDocumentId": "RD", "url": "https://s3.example/r"}),
        httpx.Response(200, content=b"seller-sku\tquantity\nA\t1\n"),
    )
    document = await h.client.reports.get_report_document("RD")
    assert await h.client.reports.download_report_document(document) == b"seller-sku\tquantity\nA\t1\n"


async def test_patch_listings_item_escapes_the_sku_and_sends_a_valid_body(make_client):
    h = make_client(ok({"sku": "A/B 1", "status": "ACCEPTED", "submissionId": "S1", "issues": []}))
    request = ListingsItemPatchRequest(
        product_type="PRODUCT",
        patches=[
            ListingsPatch(
                op="replace",
                path="/attributes/fulfillment_availability",
                value=[{"fulfillment_channel_code": "DEFAULT", "quantity": 42, "lead_time_to_ship_max_days": 2}],
            )
        ],
    )
    result = await h.client.listings.patch_listings_item(
        "A/B 1", request, marketplace_ids=["ATVPDKIKX0DER"], included_data=["issues"]
    )
    sent = h.recorder.requests[0]
    assert sent.method == "PATCH"
    assert sent.url.raw_path.split(b"?")[0] == b"/listings/2021-08-01/items/A1EXAMPLESELLER/A%2FB%201"
    assert sent.url.params["marketplaceIds"] == "ATVPDKIKX0DER"
    assert sent.url.params["includedData"] == "issues"
    validate("listingsItems_2021-08-01.json", "ListingsItemPatchRequest", json.loads(sent.content))
    assert result.accepted


async def test_get_listings_item_reads_fulfillment_availability(make_client):
    h = make_client(
        ok(
            {
                "sku": "SKU-1",
                "summaries": [
                    {
                        "marketplaceId": "ATVPDKIKX0DER",
                        "asin": "B0TEST",
                        "productType": "PRODUCT",
                        "status": ["BUYABLE"],
                    }
                ],
                "fulfillmentAvailability": [{"fulfillmentChannelCode": "DEFAULT", "quantity": 9}],
            }
        )
    )
    item = await h.client.listings.get_listings_item(
        "SKU-1", marketplace_ids=["ATVPDKIKX0DER"], included_data=["summaries", "fulfillmentAvailability"]
    )
    assert h.recorder.requests[0].url.params["includedData"] == "summaries,fulfillmentAvailability"
    assert item.fulfillment_availability is not None and item.fulfillment_availability[0].quantity == 9
    assert item.summaries is not None and item.summaries[0].product_type == "PRODUCT"


async def test_create_report_body_is_valid_against_the_model(make_client):
    h = make_client(ok({"reportId": "R1"}, status=202))
    spec = spapi.CreateReportSpecification(
        report_type="GET_MERCHANT_LISTINGS_ALL_DATA",
        marketplace_ids=["ATVPDKIKX0DER"],
        data_start_time=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert await h.client.reports.create_report(spec) == "R1"
    body = json.loads(h.recorder.requests[0].content)
    validate("reports_2021-06-30.json", "CreateReportSpecification", body)
    assert body["dataStartTime"] == "2026-01-01T00:00:00Z"
