"""Feeds 2021-06-30: document → presigned upload → feed → status → result document.

Also the JSON_LISTINGS_FEED document and its processing report, the two Amazon formats that
ride on this API for bulk listing (stock) updates.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from .models import SpApiModel
from .operations import CREATE_FEED, CREATE_FEED_DOCUMENT, GET_FEED, GET_FEED_DOCUMENT, Operation
from .rate_limit import DEFAULT_RATE_LIMITS, Priority

if TYPE_CHECKING:
    from .client import SpApiClient

JSON_LISTINGS_FEED = "JSON_LISTINGS_FEED"
JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
XML_CONTENT_TYPE = "text/xml; charset=UTF-8"
TERMINAL_STATUSES = frozenset({"DONE", "FATAL", "CANCELLED"})

# Listing feeds (0.0222 rps, burst 10, spapi-brief §4): the way to learn whether a createFeed whose answer was lost
# created a feed. No rate-limit entry of its own yet: the limiter's fallback applies until Amazon's
# x-amzn-RateLimit-Limit header corrects it.
GET_FEEDS = Operation("feeds", "getFeeds", "GET", "/feeds/2021-06-30/feeds", True)


class CreateFeedDocumentResponse(SpApiModel):
    feed_document_id: str
    # A presigned URL is a bearer credential for five minutes: keep it out of reprs and logs.
    url: str = Field(repr=False)


class FeedDocument(SpApiModel):
    feed_document_id: str
    url: str = Field(repr=False)
    compression_algorithm: str | None = None


class CreateFeedSpecification(SpApiModel):
    feed_type: str
    marketplace_ids: list[str] = Field(min_length=1, max_length=25)
    input_feed_document_id: str
    feed_options: dict[str, str] | None = None


class CreateFeedResponse(SpApiModel):
    feed_id: str


class Feed(SpApiModel):
    feed_id: str
    feed_type: str
    created_time: datetime
    processing_status: str
    marketplace_ids: list[str] | None = None
    processing_start_time: datetime | None = None
    processing_end_time: datetime | None = None
    result_feed_document_id: str | None = None

    @property
    def finished(self) -> bool:
        return self.processing_status in TERMINAL_STATUSES


class GetFeedsResponse(SpApiModel):
    feeds: list[Feed]
    next_token: str | None = None


# --- JSON_LISTINGS_FEED (schemas/feeds/listings-feed-schema-v2.json) ---


class ListingsPatch(SpApiModel):
    op: Literal["add", "replace", "merge", "delete"]
    path: str
    # Attribute values keep Amazon's snake_case names (fulfillment_channel_code, ...).
    value: list[dict[str, Any]] | None = None


class ListingsFeedMessage(SpApiModel):
    message_id: int = Field(ge=1)
    sku: str = Field(min_length=1)
    operation_type: Literal["UPDATE", "PARTIAL_UPDATE", "DELETE", "PATCH"]
    product_type: str | None = None
    patches: list[ListingsPatch] | None = None
    attributes: dict[str, Any] | None = None
    requirements: str | None = None


class ListingsFeedHeader(SpApiModel):
    seller_id: str
    version: Literal["2.0"] = "2.0"
    issue_locale: str | None = None
    report: dict[str, Any] | None = None


class ListingsFeed(SpApiModel):
    header: ListingsFeedHeader
    messages: list[ListingsFeedMessage] = Field(min_length=1, max_length=25_000)

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_wire(), separators=(",", ":")).encode("utf-8")


class ProcessingIssue(SpApiModel):
    message_id: int | None = None
    sku: str | None = None
    code: str | None = None
    severity: str
    message: str
    attribute_name: str | None = None


class ProcessingSummary(SpApiModel):
    errors: int
    warnings: int
    messages_processed: int
    messages_accepted: int
    messages_invalid: int
    item_summary: dict[str, Any] | None = None


class ProcessingReport(SpApiModel):
    """The JSON_LISTINGS_FEED processing report (listings-feed-processing-report-schema-v2.json)."""

    header: dict[str, Any]
    issues: list[ProcessingIssue] = []
    summary: ProcessingSummary
    items: list[dict[str, Any]] | None = None


def _timestamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def feed_limit_key(feed_type: str) -> str:
    """The rate-limit bucket for createFeed: a feed type with its own usage plan gets its own."""
    own = f"{CREATE_FEED.key}:{feed_type}"
    return own if own in DEFAULT_RATE_LIMITS else CREATE_FEED.key


class FeedsApi:
    def __init__(self, client: SpApiClient) -> None:
        self._client = client

    async def create_feed_document(
        self, content_type: str, *, priority: Priority | None = None
    ) -> CreateFeedDocumentResponse:
        response = await self._client.call(CREATE_FEED_DOCUMENT, json={"contentType": content_type}, priority=priority)
        return CreateFeedDocumentResponse.model_validate_json(response.content)

    async def upload_feed_document(
        self, document: CreateFeedDocumentResponse, content: bytes, content_type: str
    ) -> None:
        await self._client.upload(document.url, content, content_type, operation="feeds.uploadFeedDocument")

    async def create_feed(self, spec: CreateFeedSpecification, *, priority: Priority | None = None) -> str:
        response = await self._client.call(
            CREATE_FEED, json=spec.to_wire(), priority=priority, limit_key=feed_limit_key(spec.feed_type)
        )
        return CreateFeedResponse.model_validate_json(response.content).feed_id

    async def get_feed(self, feed_id: str, *, priority: Priority | None = None) -> Feed:
        response = await self._client.call(GET_FEED, path_params={"feedId": feed_id}, priority=priority)
        return Feed.model_validate_json(response.content)

    async def get_feeds(
        self,
        *,
        feed_types: Sequence[str],
        created_since: datetime | None = None,
        created_until: datetime | None = None,
        marketplace_ids: Sequence[str] | None = None,
        priority: Priority | None = None,
    ) -> list[Feed]:
        """Every feed of these types created in the window (Amazon lists 90 days), all pages."""
        params: dict[str, Any] = {"feedTypes": ",".join(feed_types), "pageSize": 100}
        if created_since is not None:
            params["createdSince"] = _timestamp(created_since)
        if created_until is not None:
            params["createdUntil"] = _timestamp(created_until)
        if marketplace_ids:
            params["marketplaceIds"] = ",".join(marketplace_ids)
        feeds: list[Feed] = []
        while True:
            response = await self._client.call(GET_FEEDS, params=params, priority=priority)
            page = GetFeedsResponse.model_validate_json(response.content)
            feeds.extend(page.feeds)
            if not page.next_token:
                return feeds
            # With nextToken, Amazon takes it as the only parameter.
            params = {"nextToken": page.next_token}

    async def get_feed_document(self, feed_document_id: str, *, priority: Priority | None = None) -> FeedDocument:
        response = await self._client.call(
            GET_FEED_DOCUMENT, path_params={"feedDocumentId": feed_document_id}, priority=priority
        )
        return FeedDocument.model_validate_json(response.content)

    async def download_feed_document(self, document: FeedDocument) -> bytes:
        return await self._client.download(
            document.url, document.compression_algorithm, operation="feeds.downloadFeedDocument"
        )

    async def submit_feed(
        self,
        feed_type: str,
        content: bytes,
        *,
        content_type: str,
        marketplace_ids: Sequence[str],
        feed_options: dict[str, str] | None = None,
        priority: Priority | None = None,
    ) -> str:
        """createFeedDocument → upload → createFeed; returns the feed id.

        Only createFeed changes anything on Amazon, and it is sent at most once per call: a
        timeout there raises OutcomeUnknown instead of risking a duplicate feed.
        """
        document = await self.create_feed_document(content_type, priority=priority)
        await self.upload_feed_document(document, content, content_type)
        spec = CreateFeedSpecification(
            feed_type=feed_type,
            marketplace_ids=list(marketplace_ids),
            input_feed_document_id=document.feed_document_id,
            feed_options=feed_options,
        )
        return await self.create_feed(spec, priority=priority)

    async def wait_for_feed(self, feed_id: str, *, poll_interval: float = 30.0, timeout: float | None = None) -> Feed:
        """Poll getFeed until the feed is DONE, FATAL or CANCELLED.

        Prefer the FEED_PROCESSING_FINISHED notification where one is wired up; this is the fallback.
        Raises TimeoutError after `timeout` seconds.
        """
        async with asyncio.timeout(timeout):
            while True:
                feed = await self.get_feed(feed_id)
                if feed.finished:
                    return feed
                await asyncio.sleep(poll_interval)

    async def get_result_document(self, feed: Feed) -> bytes | None:
        """The processing report of a finished feed, downloaded and decompressed (None if absent)."""
        if feed.result_feed_document_id is None:
            return None
        document = await self.get_feed_document(feed.result_feed_document_id)
        return await self.download_feed_document(document)

    async def get_processing_report(self, feed: Feed) -> ProcessingReport | None:
        """The parsed JSON_LISTINGS_FEED processing report of a finished feed."""
        body = await self.get_result_document(feed)
        return None if body is None else ProcessingReport.model_validate_json(body)
