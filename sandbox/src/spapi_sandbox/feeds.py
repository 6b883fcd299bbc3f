"""Feeds API 2021-06-30 and the asynchronous processing of JSON_LISTINGS_FEED documents.

A feed moves IN_QUEUE -> IN_PROGRESS -> DONE or FATAL in the background and leaves a processing report that
follows listings-feed-processing-report-schema-v2.json. A document that breaks listings-feed-schema-v2.json
outside its messages is FATAL; a bad message only fails itself, with an issue naming its messageId.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from typing import Any

import jsonschema

from spapi_sandbox import documents, listings, notifications, order_acknowledgement
from spapi_sandbox.errors import ApiError
from spapi_sandbox.models import Models
from spapi_sandbox.state import Feed, iso, utcnow
from spapi_sandbox.world import Call, Reply, World

logger = logging.getLogger(__name__)

JSON_LISTINGS_FEED = "JSON_LISTINGS_FEED"
# Retired 2025-07-31: Amazon now ends these FATAL (design/spapi-brief.md §0.3).
RETIRED_LISTINGS_FEEDS = frozenset(
    {
        "POST_PRODUCT_DATA",
        "POST_INVENTORY_AVAILABILITY_DATA",
        "POST_PRODUCT_PRICING_DATA",
        "POST_PRODUCT_OVERRIDES_DATA",
        "POST_PRODUCT_IMAGE_DATA",
        "POST_PRODUCT_RELATIONSHIP_DATA",
        "POST_FLAT_FILE_INVLOADER_DATA",
        "POST_FLAT_FILE_LISTINGS_DATA",
        "POST_FLAT_FILE_PRICEANDQUANTITYONLY_UPDATE_DATA",
    }
)
REPORT_CONTENT_TYPE = "application/json; charset=UTF-8"


def _feed_id(text: str) -> str:
    if not text.isdigit():
        raise ApiError.invalid_input("Invalid input", details=f"'{text}' is not a feed id.")
    return text


def _document_id(text: str) -> str:
    if not text.startswith("amzn1.tortuga."):
        raise ApiError.invalid_input("Invalid input", details=f"'{text}' is not a feed document id.")
    return text


def _own_feed(world: World, call: Call) -> Feed:
    feed = world.state.feeds.get(_feed_id(call.params["feedId"]))
    if feed is None or feed.seller_id != call.seller_id:
        raise ApiError.not_found(f"Feed {call.params['feedId']} not found.")
    return feed


async def create_feed_document(world: World, call: Call) -> Reply:
    content_type = call.body["contentType"].strip()
    if not content_type:
        raise ApiError.invalid_input("contentType must not be empty.")
    document = documents.new_document(world, call.seller_id, content_type)
    url = documents.presigned_url(call.base_url, document.document_id, "PUT")
    return Reply(201, {"feedDocumentId": document.document_id, "url": url})


async def create_feed(world: World, call: Call) -> Reply:
    body = call.body
    seller = world.state.sellers[call.seller_id]
    unknown = [m for m in body["marketplaceIds"] if m not in seller.marketplace_ids]
    if unknown:
        raise ApiError.invalid_input(f"Invalid marketplaceIds: {', '.join(unknown)}")
    document = world.state.documents.get(body["inputFeedDocumentId"])
    if document is None or document.seller_id != call.seller_id:
        raise ApiError.invalid_input("Invalid input", details="The inputFeedDocumentId is not known.")
    if document.data is None:
        raise ApiError.invalid_input("Invalid input", details="Nothing was uploaded for the inputFeedDocumentId.")
    feed = Feed(
        feed_id=world.state.ids.feed(),
        seller_id=call.seller_id,
        feed_type=body["feedType"],
        marketplace_ids=list(body["marketplaceIds"]),
        input_document_id=document.document_id,
        created=utcnow(),
        forced_fatal=world.faults.next_feed_fatal(),
    )
    world.state.feeds[feed.feed_id] = feed
    world.spawn(_process(world, feed, world.epoch))
    return Reply(202, {"feedId": feed.feed_id})


def render_feed(feed: Feed) -> dict[str, Any]:
    out: dict[str, Any] = {
        "feedId": feed.feed_id,
        "feedType": feed.feed_type,
        "marketplaceIds": feed.marketplace_ids,
        "createdTime": iso(feed.created),
        "processingStatus": feed.status,
    }
    if feed.started:
        out["processingStartTime"] = iso(feed.started)
    if feed.ended:
        out["processingEndTime"] = iso(feed.ended)
    if feed.result_document_id:
        out["resultFeedDocumentId"] = feed.result_document_id
    return out


async def get_feed(world: World, call: Call) -> Reply:
    return Reply(200, render_feed(_own_feed(world, call)))


async def cancel_feed(world: World, call: Call) -> Reply:
    feed = _own_feed(world, call)
    if feed.status != "IN_QUEUE":
        raise ApiError.invalid_input(f"Only IN_QUEUE feeds can be cancelled; this one is {feed.status}.")
    feed.status = "CANCELLED"
    feed.ended = utcnow()
    world.spawn(_finished(world, feed))
    return Reply(200)


async def get_feed_document(world: World, call: Call) -> Reply:
    document = world.state.documents.get(_document_id(call.params["feedDocumentId"]))
    if document is None or document.seller_id != call.seller_id:
        raise ApiError.not_found(f"Feed document {call.params['feedDocumentId']} not found.")
    body: dict[str, Any] = {
        "feedDocumentId": document.document_id,
        "url": documents.presigned_url(call.base_url, document.document_id, "GET"),
    }
    if document.compressed:
        body["compressionAlgorithm"] = "GZIP"
    return Reply(200, body)


# --- processing --------------------------------------------------------------------------------------


async def _process(world: World, feed: Feed, epoch: int) -> None:
    await asyncio.sleep(world.config.scaled(world.config.feed_queue_seconds))
    if world.epoch != epoch or feed.status != "IN_QUEUE":
        return
    feed.status, feed.started = "IN_PROGRESS", utcnow()
    await asyncio.sleep(world.config.scaled(world.config.feed_processing_seconds))
    if world.epoch != epoch:
        return
    if feed.feed_type == order_acknowledgement.FEED_TYPE and not feed.forced_fatal:
        order_acknowledgement.finish(world, feed)  # XML in, XML processing report out
        await _finished(world, feed)
        return
    try:
        checked = None
        if feed.feed_type == JSON_LISTINGS_FEED and not feed.forced_fatal:
            # Validating 25,000 messages takes seconds: do it off the loop so the sandbox keeps answering.
            data = world.state.documents[feed.input_document_id].data or b""
            checked = await asyncio.to_thread(check_document, world.models, feed.seller_id, data)
        if world.epoch != epoch:
            return
        status, report = process_feed(world, feed, checked, validate_report=False)
        problems = await asyncio.to_thread(report_problems, world.models, report)
        if problems:
            raise RuntimeError(f"processing report breaks its schema: {problems[:3]}")
    except Exception:
        logger.exception("sandbox bug while processing feed %s", feed.feed_id)
        world.violations.append(f"feed {feed.feed_id}: processing failed")
        status, report = "FATAL", _fatal_report(world, feed, "Internal error while processing the feed.")
    if world.epoch != epoch:
        return
    result = documents.store_result(world, feed.seller_id, REPORT_CONTENT_TYPE, json.dumps(report).encode())
    feed.result_document_id = result.document_id
    feed.status, feed.ended = status, utcnow()
    await _finished(world, feed)


async def _finished(world: World, feed: Feed) -> None:
    """FEED_PROCESSING_FINISHED for a subscribed seller, once the feed's end is visible to getFeed."""
    try:
        await world.notifier.feed_finished(feed, world.config.resolved_models_dir())
    except notifications.InvalidNotification:
        logger.exception("sandbox bug: FEED_PROCESSING_FINISHED for feed %s breaks its schema", feed.feed_id)
        world.violations.append(f"feed {feed.feed_id}: FEED_PROCESSING_FINISHED breaks its schema")


@dataclasses.dataclass(frozen=True, slots=True)
class Checked:
    """A JSON_LISTINGS_FEED document held against listings-feed-schema-v2.json (pure, thread-safe)."""

    doc: Any
    fatal: str | None
    bad_messages: frozenset[int]


def check_document(models: Models, seller_id: str, data: bytes) -> Checked:
    try:
        doc = json.loads(documents.decompressed(data))
    except (ValueError, OSError):
        return Checked(None, "The feed document is not valid JSON.", frozenset())
    bad: set[int] = set()
    for error in models.listings_feed.iter_errors(doc):
        path = list(error.absolute_path)
        if len(path) >= 2 and path[0] == "messages" and isinstance(path[1], int):
            bad.add(path[1])
        else:
            return Checked(None, "The feed document does not follow listings-feed-schema-v2.", frozenset())
    if doc["header"]["sellerId"] != seller_id:
        return Checked(None, "header.sellerId is not the seller who submitted the feed.", frozenset())
    return Checked(doc, None, frozenset(bad))


def report_problems(models: Models, report: dict[str, Any]) -> list[str]:
    return [e.message for e in models.processing_report.iter_errors(report)]


def _fatal_report(world: World, feed: Feed, message: str) -> dict[str, Any]:
    return {
        "header": {"sellerId": feed.seller_id, "version": "2.0", "feedId": feed.feed_id},
        "issues": [{"code": "4000000", "severity": "ERROR", "message": message}],
        "summary": {"errors": 1, "warnings": 0, "messagesProcessed": 0, "messagesAccepted": 0, "messagesInvalid": 0},
    }


def process_feed(
    world: World, feed: Feed, checked: Checked | None = None, *, validate_report: bool = True
) -> tuple[str, dict[str, Any]]:
    """Apply a feed to the listings and return (processingStatus, processing report)."""
    if feed.forced_fatal:
        return "FATAL", _fatal_report(world, feed, "The feed could not be processed (injected fault).")
    if feed.feed_type in RETIRED_LISTINGS_FEEDS:
        return "FATAL", _fatal_report(world, feed, f"{feed.feed_type} is no longer supported; use JSON_LISTINGS_FEED.")
    if feed.feed_type != JSON_LISTINGS_FEED:
        return "FATAL", _fatal_report(world, feed, f"The sandbox does not process {feed.feed_type} feeds.")
    if checked is None:
        data = world.state.documents[feed.input_document_id].data or b""
        checked = check_document(world.models, feed.seller_id, data)
    if checked.fatal is not None:
        return "FATAL", _fatal_report(world, feed, checked.fatal)
    report = apply_listings_feed(world, feed, checked)
    if validate_report:
        problems = report_problems(world.models, report)
        if problems:
            raise RuntimeError(f"processing report breaks its schema: {problems[:3]}")
    return "DONE", report


def _message_problem(world: World, message: Any) -> str:
    error = jsonschema.exceptions.best_match(world.models.listings_feed_message.iter_errors(message))
    if error is None:
        return "the message breaks listings-feed-schema-v2."
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}"[:300] if where else error.message[:300]


def apply_listings_feed(world: World, feed: Feed, checked: Checked) -> dict[str, Any]:
    """Apply every valid message; the processing report names each message that failed and why."""
    doc, bad_messages = checked.doc, checked.bad_messages
    marketplace_id = feed.marketplace_ids[0]
    issues: list[dict[str, Any]] = []
    accepted: list[str] = []
    seen: set[int] = set()
    for index, raw in enumerate(doc["messages"]):
        message = raw if isinstance(raw, dict) else {}
        message_id, sku = message.get("messageId"), message.get("sku")
        base = {"messageId": message_id} if isinstance(message_id, int) and message_id >= 1 else {}
        if isinstance(sku, str) and sku:
            base["sku"] = sku
        if index in bad_messages or message_id in seen:
            reason = (
                _message_problem(world, raw)
                if index in bad_messages
                else f"messageId {message_id} is not unique in the feed."
            )
            issues.append(
                {
                    **base,
                    "code": listings.CODE_INVALID_MESSAGE,
                    "severity": "ERROR",
                    "message": f"The message is invalid: {reason}",
                }
            )
            continue
        seen.add(message_id)
        ref = f"{feed.feed_id}/{message_id}"
        operation = message["operationType"]
        if operation == "PATCH":
            outcome = listings.patch_listing(world, feed.seller_id, sku, message["patches"], source="feed", ref=ref)
        elif operation in ("UPDATE", "PARTIAL_UPDATE"):
            outcome = listings.put_listing(
                world,
                feed.seller_id,
                sku,
                message["productType"],
                message["attributes"],
                marketplace_id=marketplace_id,
                source="feed",
                ref=ref,
                partial=operation == "PARTIAL_UPDATE",
            )
        else:
            outcome = listings.delete_listing(world, feed.seller_id, sku, source="feed", ref=ref)
        for issue in outcome.issues:
            entry = {**base, "code": issue.code, "severity": issue.severity, "message": issue.message}
            if issue.attribute:
                entry["attributeName"] = issue.attribute
            issues.append(entry)
        if outcome.accepted:
            accepted.append(sku)
    total = len(doc["messages"])
    header: dict[str, Any] = {"sellerId": feed.seller_id, "version": "2.0", "feedId": feed.feed_id}
    report: dict[str, Any] = {
        "header": header,
        "issues": issues,
        "summary": {
            "errors": sum(1 for i in issues if i["severity"] == "ERROR"),
            "warnings": sum(1 for i in issues if i["severity"] == "WARNING"),
            "messagesProcessed": total,
            "messagesAccepted": len(accepted),
            "messagesInvalid": total - len(accepted),
        },
    }
    wanted = doc["header"].get("report")
    if wanted:
        header["report"] = wanted
        included = set(wanted["includedData"])
        items = []
        for sku in accepted:
            listing = world.state.listing(feed.seller_id, sku)
            if listing is not None:
                items.append(listings.render_listing(listing, included))
        report["items"] = items
    return report
