"""The XML POST_ORDER_ACKNOWLEDGEMENT_DATA feed: structure checks, cancellations and the XML processing report."""

from __future__ import annotations

import gzip
import xml.etree.ElementTree as ET

import pytest
from spapi_sandbox import order_acknowledgement, orders
from spapi_sandbox.state import Document, Feed, utcnow
from spapi_sandbox.world import World

SELLER = "A1SANDBOXSELLER"


def _feed(world: World, xml: str) -> Feed:
    world.state.documents["doc-1"] = Document(
        document_id="doc-1", seller_id=SELLER, content_type="text/xml; charset=UTF-8", secret="s", created=utcnow(),
        data=xml.encode(),
    )  # fmt: skip
    feed = Feed(
        feed_id="50000000009", seller_id=SELLER, feed_type=order_acknowledgement.FEED_TYPE,
        marketplace_ids=["ATVPDKIKX0DER"], input_document_id="doc-1", created=utcnow(),
    )  # fmt: skip
    order_acknowledgement.finish(world, feed)
    return feed


def _report(world: World, feed: Feed) -> ET.Element:
    document = world.state.documents[feed.result_document_id or ""]
    data = document.data or b""
    return ET.fromstring(gzip.decompress(data) if document.compressed else data)


def _envelope(*messages: str, merchant: str = SELLER, message_type: str = "OrderAcknowledgement") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><AmazonEnvelope><Header><DocumentVersion>1.01</DocumentVersion>'
        f"<MerchantIdentifier>{merchant}</MerchantIdentifier></Header><MessageType>{message_type}</MessageType>"
        + "".join(messages)
        + "</AmazonEnvelope>"
    )


def _message(message_id: int, order_id: str, status: str = "Failure", items: str = "") -> str:
    return (
        f"<Message><MessageID>{message_id}</MessageID><OrderAcknowledgement><AmazonOrderID>{order_id}</AmazonOrderID>"
        f"<StatusCode>{status}</StatusCode>{items}</OrderAcknowledgement></Message>"
    )


def _item(item_id: str, reason: str = "NoInventory") -> str:
    return f"<Item><AmazonOrderItemCode>{item_id}</AmazonOrderItemCode><CancelReason>{reason}</CancelReason></Item>"


@pytest.fixture
def order(world: World) -> orders.Order:
    return orders.create_order(
        world,
        orders.NewOrder(
            seller_id=SELLER, items=[orders.NewItem(sku="A", quantity=1), orders.NewItem(sku="B", quantity=2)]
        ),
    )


def test_whole_order_and_one_item_cancelled_with_a_clean_report(world: World, order: orders.Order) -> None:
    other = orders.create_order(world, orders.NewOrder(seller_id=SELLER, items=[orders.NewItem(sku="C", quantity=1)]))
    b = order.items[1].order_item_id
    feed = _feed(world, _envelope(_message(1, other.order_id), _message(2, order.order_id, items=_item(b))))
    assert feed.status == "DONE"
    assert other.status == "Canceled"
    assert order.items[1].quantity_cancelled == 2 and order.items[0].quantity_cancelled == 0
    assert order.status == "Unshipped"  # item A is still to ship
    summary = _report(world, feed).find("Message/ProcessingReport/ProcessingSummary")
    assert summary is not None
    assert (summary.findtext("MessagesProcessed"), summary.findtext("MessagesWithError")) == ("2", "0")


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda o: _message(1, o.order_id, items=_item(o.items[0].order_item_id, "Tired")), "CancelReason"),
        (lambda o: _message(1, o.order_id, items=_item("99999")), "AmazonOrderItemCode 99999"),
        (lambda o: _message(1, "111-0000000-0000000"), "is not an order of this seller"),
        (lambda o: _message(1, o.order_id, status="Maybe"), "StatusCode"),
    ],
)
def test_a_bad_message_is_an_error_result_and_changes_nothing(
    world: World, order: orders.Order, build: object, expected: str
) -> None:
    feed = _feed(world, _envelope(build(order)))  # type: ignore[operator]
    assert feed.status == "DONE"
    result = _report(world, feed).find("Message/ProcessingReport/Result")
    assert result is not None and result.findtext("ResultCode") == "Error"
    assert expected in (result.findtext("ResultDescription") or "")
    assert order.status == "Unshipped" and all(i.quantity_cancelled == 0 for i in order.items)


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<nope", "well-formed"),
        (_envelope(_message(1, "x"), message_type="OrderFulfillment"), "MessageType"),
        (_envelope(_message(1, "x"), merchant="A2OTHER"), "MerchantIdentifier"),
        (_envelope(_message(1, "x"), _message(1, "y")), "MessageID"),
    ],
)
def test_a_broken_envelope_ends_the_feed_fatal(world: World, xml: str, expected: str) -> None:
    feed = _feed(world, xml)
    assert feed.status == "FATAL"
    assert expected in (_report(world, feed).findtext("Message/ProcessingReport/Result/ResultDescription") or "")
