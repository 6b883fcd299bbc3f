"""The XML POST_ORDER_ACKNOWLEDGEMENT_DATA feed: a seller cancels orders or items (design/spapi-brief.md §7).

The document is an AmazonEnvelope (Header with DocumentVersion and MerchantIdentifier, MessageType
OrderAcknowledgement, Messages with unique positive MessageIDs). StatusCode Failure cancels the order, or only the
listed Items (AmazonOrderItemCode, CancelReason); Success acknowledges. The answer is an XML ProcessingReport with
one Result per message in error, as Amazon sends for XML feeds.
"""

from __future__ import annotations

# The sandbox parses test input it was handed; ElementTree resolves no external entities.
import xml.etree.ElementTree as ET
from typing import Any

from spapi_sandbox import documents, orders
from spapi_sandbox.state import Feed, utcnow
from spapi_sandbox.world import World

FEED_TYPE = "POST_ORDER_ACKNOWLEDGEMENT_DATA"
REPORT_CONTENT_TYPE = "text/xml; charset=UTF-8"
# OrderAcknowledgement.xsd (release_1_9 as reproduced in §7) plus PricingError, which seller tools offer.
CANCEL_REASONS = frozenset(
    {
        "NoInventory", "ShippingAddressUndeliverable", "CustomerExchange", "BuyerCanceled", "GeneralAdjustment",
        "CarrierCreditDecision", "RiskAssessmentInformationNotValid", "CarrierCoverageFailure", "CustomerReturn",
        "MerchandiseNotReceived", "PricingError",
    }
)  # fmt: skip


class _Fatal(Exception):
    pass


def _text(element: ET.Element | None, name: str) -> str | None:
    found = element.find(name) if element is not None else None
    return found.text.strip() if found is not None and found.text else None


def finish(world: World, feed: Feed) -> None:
    """Processes the feed and stores its XML processing report: DONE, or FATAL for a broken envelope."""
    data = documents.decompressed(world.state.documents[feed.input_document_id].data or b"")
    try:
        results, processed = _apply(world, feed, data)
        status = "DONE"
    except _Fatal as fatal:
        results, processed, status = [("0", None, "Error", "5000", str(fatal))], 0, "FATAL"
    report = _report(feed, results, processed)
    stored = documents.store_result(world, feed.seller_id, REPORT_CONTENT_TYPE, report)
    feed.result_document_id = stored.document_id
    feed.status, feed.ended = status, utcnow()


def _apply(world: World, feed: Feed, data: bytes) -> tuple[list[tuple[str, str | None, str, str, str]], int]:
    try:
        root = ET.fromstring(data)  # noqa: S314 - test input; ElementTree expands no external entities
    except ET.ParseError as error:
        raise _Fatal(f"The feed is not well-formed XML: {error}") from None
    if root.tag != "AmazonEnvelope":
        raise _Fatal("The root element must be AmazonEnvelope.")
    header = root.find("Header")
    if header is None or not _text(header, "DocumentVersion"):
        raise _Fatal("Header with DocumentVersion is required.")
    if _text(header, "MerchantIdentifier") != feed.seller_id:
        raise _Fatal("Header/MerchantIdentifier is not the seller who submitted the feed.")
    if _text(root, "MessageType") != "OrderAcknowledgement":
        raise _Fatal("MessageType must be OrderAcknowledgement for POST_ORDER_ACKNOWLEDGEMENT_DATA.")
    messages = root.findall("Message")
    if not messages:
        raise _Fatal("The envelope has no Message.")
    seen: set[str] = set()
    results: list[tuple[str, str | None, str, str, str]] = []
    for message in messages:
        message_id = _text(message, "MessageID") or ""
        if not message_id.isdigit() or int(message_id) < 1 or message_id in seen:
            raise _Fatal(f"MessageID {message_id!r} must be a unique positive integer.")
        seen.add(message_id)
        ack = message.find("OrderAcknowledgement")
        order_id = _text(ack, "AmazonOrderID")
        problem = _acknowledge(world, feed, ack, order_id) if ack is not None else "OrderAcknowledgement is missing."
        if problem is not None:
            results.append((message_id, order_id, "Error", "18028", problem))
    return results, len(messages)


def _acknowledge(world: World, feed: Feed, ack: ET.Element, order_id: str | None) -> str | None:
    order = world.state.orders.get(order_id or "")
    if order is None or order.seller_id != feed.seller_id:
        return f"AmazonOrderID {order_id} is not an order of this seller."
    status = _text(ack, "StatusCode")
    if status not in ("Success", "Failure"):
        return f"StatusCode {status!r} must be Success or Failure."
    lines: list[tuple[Any, str]] = []
    for element in ack.findall("Item"):
        code = _text(element, "AmazonOrderItemCode")
        item = order.item(code or "")
        if item is None:
            return f"AmazonOrderItemCode {code} is not an item of order {order_id}."
        reason = _text(element, "CancelReason") or "NoInventory"
        if reason not in CANCEL_REASONS:
            return f"CancelReason {reason!r} is not a valid value."
        lines.append((item, reason))
    if status == "Success":
        return None
    if order.status in ("Shipped", "Canceled"):
        return f"Order {order_id} cannot be cancelled in status {order.status}."
    targets = lines or [(i, "NoInventory") for i in order.items if i.quantity_left]
    for item, _ in targets:
        if item.quantity_left == 0:
            return f"Item {item.order_item_id} of order {order_id} has nothing left to cancel."
    if not lines and all(i.quantity_shipped == 0 for i in order.items):
        orders.transition(world, order, "Canceled")
        return None
    for item, reason in targets:
        item.quantity_cancelled += item.quantity_left - item.quantity_pending
        item.cancel_reason = reason
    orders.settle_after_item_cancellation(world, order)
    return None


def _report(feed: Feed, results: list[tuple[str, str | None, str, str, str]], processed: int) -> bytes:
    root = ET.Element("AmazonEnvelope")
    header = ET.SubElement(root, "Header")
    ET.SubElement(header, "DocumentVersion").text = "1.02"
    ET.SubElement(header, "MerchantIdentifier").text = feed.seller_id
    ET.SubElement(root, "MessageType").text = "ProcessingReport"
    message = ET.SubElement(root, "Message")
    ET.SubElement(message, "MessageID").text = "1"
    report = ET.SubElement(message, "ProcessingReport")
    ET.SubElement(report, "DocumentTransactionID").text = feed.feed_id
    ET.SubElement(report, "StatusCode").text = "Complete"
    summary = ET.SubElement(report, "ProcessingSummary")
    errors = len({r[0] for r in results})
    ET.SubElement(summary, "MessagesProcessed").text = str(processed)
    ET.SubElement(summary, "MessagesSuccessful").text = str(max(processed - errors, 0))
    ET.SubElement(summary, "MessagesWithError").text = str(errors)
    ET.SubElement(summary, "MessagesWithWarning").text = "0"
    for message_id, order_id, code, message_code, description in results:
        result = ET.SubElement(report, "Result")
        ET.SubElement(result, "MessageID").text = message_id
        ET.SubElement(result, "ResultCode").text = code
        ET.SubElement(result, "ResultMessageCode").text = message_code
        ET.SubElement(result, "ResultDescription").text = description
        if order_id:
            ET.SubElement(ET.SubElement(result, "AdditionalInfo"), "AmazonOrderID").text = order_id
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
