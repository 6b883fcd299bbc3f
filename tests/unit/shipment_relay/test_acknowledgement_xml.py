import xml.etree.ElementTree as ET

from shipment_relay.cancellations import feed_document, report_errors


def test_the_feed_names_the_seller_and_one_message_per_order_with_items_only_for_partial_cancellations() -> None:
    rows = [
        {"amazon_order_id": "111-0000001-0000001", "items": None, "cancel_reason": "NoInventory"},
        {"amazon_order_id": "111-0000002-0000002", "items": '[{"order_item_id": "42", "quantity": 1}]',
         "cancel_reason": "BuyerCanceled"},
    ]  # fmt: skip
    root = ET.fromstring(feed_document("A1SELLER", rows))  # type: ignore[arg-type]
    assert root.findtext("Header/MerchantIdentifier") == "A1SELLER"
    assert root.findtext("MessageType") == "OrderAcknowledgement"
    messages = root.findall("Message")
    assert [m.findtext("MessageID") for m in messages] == ["1", "2"]
    assert [m.findtext("OrderAcknowledgement/StatusCode") for m in messages] == ["Failure", "Failure"]
    assert messages[0].find("OrderAcknowledgement/Item") is None
    item = messages[1].find("OrderAcknowledgement/Item")
    assert item is not None
    assert (item.findtext("AmazonOrderItemCode"), item.findtext("CancelReason")) == ("42", "BuyerCanceled")


def test_only_results_in_error_count_against_their_message() -> None:
    report = b"""<?xml version="1.0"?><AmazonEnvelope><Message><MessageID>1</MessageID><ProcessingReport>
      <Result><MessageID>2</MessageID><ResultCode>Error</ResultCode><ResultDescription>bad item</ResultDescription>
      </Result><Result><MessageID>3</MessageID><ResultCode>Warning</ResultCode></Result>
    </ProcessingReport></Message></AmazonEnvelope>"""
    assert report_errors(report) == {2: "bad item"}
