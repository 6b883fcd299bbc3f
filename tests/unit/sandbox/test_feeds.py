"""JSON_LISTINGS_FEED processing: per-message issues, FATAL documents, reports that follow Amazon's schema."""

from __future__ import annotations

import gzip
import json
from typing import Any

import httpx
import pytest
from spapi_sandbox.feeds import process_feed
from spapi_sandbox.state import Document, Feed, Listing, utcnow
from spapi_sandbox.world import World
from testkit import eventually

SELLER = "A1SANDBOXSELLER"
FA = "/attributes/fulfillment_availability"


def _message(message_id: int, sku: str, op: str = "merge", **entry: Any) -> dict[str, Any]:
    value = {"fulfillment_channel_code": "DEFAULT", **entry}
    return {
        "messageId": message_id,
        "sku": sku,
        "operationType": "PATCH",
        "productType": "PRODUCT",
        "patches": [{"op": op, "path": FA, "value": [value]}],
    }


def _feed(world: World, document: Any, *, raw: bytes | None = None, feed_type: str = "JSON_LISTINGS_FEED") -> Feed:
    data = raw if raw is not None else json.dumps(document).encode()
    world.state.documents["amzn1.tortuga.4.na.doc"] = Document(
        document_id="amzn1.tortuga.4.na.doc",
        seller_id=SELLER,
        content_type="application/json; charset=UTF-8",
        secret="s",
        created=utcnow(),
        data=data,
    )
    return Feed(
        feed_id="50000000001",
        seller_id=SELLER,
        feed_type=feed_type,
        marketplace_ids=["ATVPDKIKX0DER"],
        input_document_id="amzn1.tortuga.4.na.doc",
        created=utcnow(),
    )


@pytest.fixture(autouse=True)
def stocked(world: World) -> None:
    for sku in ("SKU-1", "SKU-2"):
        world.state.listings[(SELLER, sku)] = Listing(
            seller_id=SELLER,
            sku=sku,
            asin="B000000001",
            marketplace_id="ATVPDKIKX0DER",
            fulfillment="MFN",
            quantity=10,
            handling_time=2,
        )


def test_report_lists_per_message_issues_and_follows_the_schema(world: World) -> None:
    document = {
        "header": {"sellerId": SELLER, "version": "2.0"},
        "messages": [
            _message(1, "SKU-1", quantity=7),
            _message(2, "UNKNOWN", quantity=7),
            _message(3, "SKU-2", quantity=-4),
            {"messageId": 4, "sku": "SKU-2", "operationType": "PATCH"},
        ],
    }
    status, report = process_feed(world, _feed(world, document))
    assert status == "DONE"
    assert list(world.models.processing_report.iter_errors(report)) == []
    assert report["summary"] == {
        "errors": 3,
        "warnings": 0,
        "messagesProcessed": 4,
        "messagesAccepted": 1,
        "messagesInvalid": 3,
    }
    by_message = {issue["messageId"]: issue for issue in report["issues"]}
    assert by_message[2]["sku"] == "UNKNOWN" and "does not exist" in by_message[2]["message"]
    assert by_message[3]["attributeName"] == "fulfillment_availability"
    assert "invalid" in by_message[4]["message"]
    assert world.state.listing(SELLER, "SKU-1").quantity == 7
    assert world.state.listing(SELLER, "SKU-2").quantity == 10
    assert [(e.sku, e.value, e.ref) for e in world.ledger.query(kind="quantity")] == [("SKU-1", 7, "50000000001/1")]


def test_replace_and_merge_in_one_feed(world: World) -> None:
    document = {
        "header": {"sellerId": SELLER, "version": "2.0"},
        "messages": [
            _message(1, "SKU-1", op="replace", quantity=5),
            _message(2, "SKU-2", op="merge", quantity=5),
        ],
    }
    assert process_feed(world, _feed(world, document))[0] == "DONE"
    assert world.state.listing(SELLER, "SKU-1").handling_time is None
    assert world.state.listing(SELLER, "SKU-2").handling_time == 2


def test_gzipped_upload_is_read(world: World) -> None:
    document = {"header": {"sellerId": SELLER, "version": "2.0"}, "messages": [_message(1, "SKU-1", quantity=3)]}
    status, report = process_feed(world, _feed(world, None, raw=gzip.compress(json.dumps(document).encode())))
    assert status == "DONE" and report["summary"]["messagesAccepted"] == 1


def test_requested_items_are_reported(world: World) -> None:
    document = {
        "header": {
            "sellerId": SELLER,
            "version": "2.0",
            "report": {"includedData": ["fulfillmentAvailability"], "apiVersion": "2021-08-01"},
        },
        "messages": [_message(1, "SKU-1", quantity=3)],
    }
    _, report = process_feed(world, _feed(world, document))
    assert report["items"] == [
        {"sku": "SKU-1", "fulfillmentAvailability": [{"fulfillmentChannelCode": "DEFAULT", "quantity": 3}]}
    ]


@pytest.mark.parametrize(
    ("document", "raw"),
    [
        ({"header": {"sellerId": SELLER, "version": "1.0"}, "messages": [_message(1, "SKU-1", quantity=1)]}, None),
        (
            {"header": {"sellerId": "ASOMEONEELSE", "version": "2.0"}, "messages": [_message(1, "SKU-1", quantity=1)]},
            None,
        ),
        ({"header": {"sellerId": SELLER, "version": "2.0"}, "messages": []}, None),
        (None, b"{not json"),
    ],
)
def test_unusable_documents_end_fatal_without_changes(world: World, document: Any, raw: bytes | None) -> None:
    status, report = process_feed(world, _feed(world, document, raw=raw))
    assert status == "FATAL"
    assert report["issues"][0]["severity"] == "ERROR"
    assert world.ledger.query() == []


def test_retired_feed_types_end_fatal(world: World) -> None:
    status, _ = process_feed(world, _feed(world, None, raw=b"<xml/>", feed_type="POST_INVENTORY_AVAILABILITY_DATA"))
    assert status == "FATAL"


async def _wait_done(api: httpx.AsyncClient, feed_id: str) -> dict[str, Any]:
    async def finished() -> dict[str, Any] | None:
        feed: dict[str, Any] = (await api.get(f"/feeds/2021-06-30/feeds/{feed_id}")).json()
        return feed if feed["processingStatus"] in ("DONE", "FATAL", "CANCELLED") else None

    return await eventually(finished, timeout=5, interval=0.01)


async def test_feed_lifecycle_over_the_api(api: httpx.AsyncClient) -> None:
    await api.post("/_sandbox/listings", json={"sku": "SKU-9", "quantity": 1})
    created = await api.post("/feeds/2021-06-30/documents", json={"contentType": "application/json; charset=UTF-8"})
    assert created.status_code == 201
    url = created.json()["url"]
    document = {"header": {"sellerId": SELLER, "version": "2.0"}, "messages": [_message(1, "SKU-9", quantity=4)]}
    wrong_type = await api.put(url, content=json.dumps(document), headers={"content-type": "text/plain"})
    assert wrong_type.status_code == 403
    uploaded = await api.put(
        url, content=json.dumps(document), headers={"content-type": "application/json; charset=UTF-8"}
    )
    assert uploaded.status_code == 200
    feed = await api.post(
        "/feeds/2021-06-30/feeds",
        json={
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": ["ATVPDKIKX0DER"],
            "inputFeedDocumentId": created.json()["feedDocumentId"],
        },
    )
    assert feed.status_code == 202
    done = await _wait_done(api, feed.json()["feedId"])
    assert done["processingStatus"] == "DONE"
    result = (await api.get(f"/feeds/2021-06-30/documents/{done['resultFeedDocumentId']}")).json()
    assert result["compressionAlgorithm"] == "GZIP"
    report = json.loads(gzip.decompress((await api.get(result["url"])).content))
    assert report["summary"]["messagesAccepted"] == 1
    cancel_done = await api.delete(f"/feeds/2021-06-30/feeds/{feed.json()['feedId']}")
    assert cancel_done.status_code == 400


async def test_unknown_and_malformed_feed_ids(api: httpx.AsyncClient) -> None:
    assert (await api.get("/feeds/2021-06-30/feeds/badFeedId1")).status_code == 400
    assert (await api.get("/feeds/2021-06-30/feeds/123")).status_code == 404
    missing_doc = await api.post(
        "/feeds/2021-06-30/feeds",
        json={"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": ["ATVPDKIKX0DER"], "inputFeedDocumentId": "nope"},
    )
    assert missing_doc.status_code == 400
