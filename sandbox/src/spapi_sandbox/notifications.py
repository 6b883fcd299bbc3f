"""ORDER_CHANGE notifications, built from an order and delivered as Amazon does: into the SQS queue of
each subscription of the order's seller (message body = the notification JSON document). FEED_PROCESSING_FINISHED
likewise, when one of a subscribed seller's feeds ends (DONE, FATAL or CANCELLED), held to
notification_FeedProcessingFinished.json.

The sandbox reaches a queue by its ARN through `sqs_endpoint` (an ElasticMQ or other SQS-compatible server):
`arn:aws:sqs:<region>:<account>:<name>` is sent to `<sqs_endpoint>/<account>/<name>` with SQS's query API.
A plain HTTP POST of the same document to `url` remains for HTTP relays. Every payload is validated against
notification_OrderChange.json before it leaves.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from spapi_sandbox.state import iso, utcnow

if TYPE_CHECKING:
    import jsonschema

    from spapi_sandbox.state import Feed, Order

logger = logging.getLogger(__name__)

APPLICATION_ID = "amzn1.sp.solution.sandbox-application"
SUBSCRIPTION_ID = "sandbox-order-change-subscription"
DELIVERY_ATTEMPTS = 3
ORDER_CHANGE = "ORDER_CHANGE"
FEED_PROCESSING_FINISHED = "FEED_PROCESSING_FINISHED"
FEED_PAYLOAD_VERSION = "2020-09-04"  # the document's; subscriptions to it are payloadVersion 1.0


@dataclasses.dataclass(slots=True)
class Destination:
    destination_id: str
    name: str
    arn: str


@dataclasses.dataclass(slots=True)
class Subscription:
    subscription_id: str
    seller_id: str
    notification_type: str
    payload_version: str
    destination_id: str
    processing_directive: dict[str, Any] | None = None

    def wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "subscriptionId": self.subscription_id,
            "payloadVersion": self.payload_version,
            "destinationId": self.destination_id,
        }
        if self.processing_directive is not None:
            body["processingDirective"] = self.processing_directive
        return body

    def wants(self, document: dict[str, Any]) -> bool:
        """Whether the subscription's eventFilter lets this ORDER_CHANGE through."""
        event_filter = (self.processing_directive or {}).get("eventFilter") or {}
        change = document["Payload"]["OrderChangeNotification"]
        marketplaces = event_filter.get("marketplaceIds")
        if marketplaces and change["Summary"]["MarketplaceId"] not in marketplaces:
            return False
        change_types = event_filter.get("orderChangeTypes")
        return not change_types or change["OrderChangeType"] in change_types


def queue_url(sqs_endpoint: str, arn: str) -> str:
    """`arn:aws:sqs:<region>:<account>:<name>` -> `<sqs_endpoint>/<account>/<name>` (ElasticMQ's scheme)."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"] or not parts[4] or not parts[5]:
        raise ValueError("not an SQS queue ARN")
    return f"{sqs_endpoint.rstrip('/')}/{parts[4]}/{parts[5]}"


class InvalidNotification(RuntimeError):
    """The sandbox built a notification its own schema refuses: a sandbox bug."""


def order_change(
    order: Order,
    change_type: str,
    reason: str,
    subscription_id: str = SUBSCRIPTION_ID,
    application_id: str = APPLICATION_ID,
) -> dict[str, Any]:
    now = iso(utcnow())
    shipped = sum(i.quantity_shipped for i in order.items)
    summary: dict[str, Any] = {
        "MarketplaceId": order.marketplace_id,
        "OrderStatus": order.status,
        "PurchaseDate": iso(order.created),
        "DestinationPostalCode": order.address.get("postalCode"),
        "FulfillmentType": order.fulfillment_channel,
        "OrderType": "StandardOrder",
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": sum(i.quantity for i in order.items) - shipped,
        "EarliestShipDate": iso(order.earliest_ship),
        "LatestShipDate": iso(order.latest_ship),
        "EarliestDeliveryDate": iso(order.earliest_delivery),
        "LatestDeliveryDate": iso(order.latest_delivery),
        "OrderPrograms": [p for p, on in (("Prime", order.is_prime), ("Business", order.is_business)) if on],
        "OrderItems": [
            {
                "OrderItemId": item.order_item_id,
                "SellerSKU": item.sku,
                "SupplySourceId": None,
                "OrderItemStatus": "Shipped" if item.quantity_left == 0 else "Unshipped",
                "Quantity": item.quantity,
                "QuantityShipped": item.quantity_shipped,
                "IsBuyerRequestedCancel": item.buyer_cancel_requested,
            }
            for item in order.items
        ],
    }
    return {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": now,
        "Payload": {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": order.seller_id,
                "AmazonOrderId": order.order_id,
                "OrderChangeType": change_type,
                "OrderChangeTrigger": {"TimeOfOrderChange": iso(order.last_updated), "ChangeReason": reason},
                "Summary": summary,
            }
        },
        "NotificationMetadata": {
            "ApplicationId": application_id,
            "SubscriptionId": subscription_id,
            "PublishTime": now,
            "NotificationId": str(uuid.uuid4()),
        },
    }


@cache
def feed_finished_schema(models_dir: Path) -> jsonschema.protocols.Validator:
    import jsonschema

    schema = json.loads((models_dir / "notification_FeedProcessingFinished.json").read_text())
    return jsonschema.Draft7Validator(schema)


def feed_processing_finished(feed: Feed, subscription_id: str, application_id: str) -> dict[str, Any]:
    now = iso(utcnow())
    payload: dict[str, Any] = {
        "sellerId": feed.seller_id,
        "accountId": f"amzn1.merchant.o.{feed.seller_id}",
        "feedId": feed.feed_id,
        "feedType": feed.feed_type,
        "processingStatus": feed.status,
    }
    if feed.result_document_id:
        payload["resultFeedDocumentId"] = feed.result_document_id
    return {
        "notificationVersion": FEED_PAYLOAD_VERSION,
        "notificationType": FEED_PROCESSING_FINISHED,
        "payloadVersion": FEED_PAYLOAD_VERSION,
        "eventTime": now,
        "payload": {"feedProcessingFinishedNotification": payload},
        "notificationMetadata": {
            "applicationId": application_id,
            "subscriptionId": subscription_id,
            "publishTime": now,
            "notificationId": str(uuid.uuid4()),
        },
    }


class Notifier:
    def __init__(
        self,
        schema: jsonschema.protocols.Validator,
        default_url: str | None,
        sqs_endpoint: str | None = None,
        application_id: str = APPLICATION_ID,
    ) -> None:
        self._schema = schema
        # Amazon stamps the subscribing application's id on every notification; receivers drop foreign ones.
        self._application_id = application_id
        self._default_url = default_url
        self.url = default_url
        self._default_sqs_endpoint = sqs_endpoint
        self.sqs_endpoint = sqs_endpoint
        self.sent: list[dict[str, Any]] = []
        self.feed_notifications: list[dict[str, Any]] = []  # FEED_PROCESSING_FINISHED documents sent
        self.delivered = 0
        self.failed = 0
        self.sqs_delivered = 0
        self.sqs_failed = 0
        self.destinations: dict[str, Destination] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self._client: httpx.AsyncClient | None = None

    def reset(self) -> None:
        self.url = self._default_url
        self.sqs_endpoint = self._default_sqs_endpoint
        self.sent.clear()
        self.feed_notifications.clear()
        self.delivered = self.failed = self.sqs_delivered = self.sqs_failed = 0
        self.destinations.clear()
        self.subscriptions.clear()

    def subscription_of(self, seller_id: str, notification_type: str) -> Subscription | None:
        for subscription in self.subscriptions.values():
            if subscription.seller_id == seller_id and subscription.notification_type == notification_type:
                return subscription
        return None

    def build(self, order: Order, change_type: str, reason: str) -> dict[str, Any]:
        subscription = self.subscription_of(order.seller_id, ORDER_CHANGE)
        subscription_id = subscription.subscription_id if subscription is not None else SUBSCRIPTION_ID
        document = order_change(order, change_type, reason, subscription_id, self._application_id)
        errors = list(self._schema.iter_errors(document))
        if errors:
            raise InvalidNotification("; ".join(e.message for e in errors[:3]))
        self.sent.append(document)
        return document

    async def deliver(self, document: dict[str, Any]) -> None:
        subscription = self.subscriptions.get(document["NotificationMetadata"]["SubscriptionId"])
        tasks = []
        if subscription is not None and subscription.wants(document):
            destination = self.destinations.get(subscription.destination_id)
            if destination is not None:
                tasks.append(self._to_queue(destination, document))
        if self.url:
            tasks.append(self._to_url(self.url, document))
        await asyncio.gather(*tasks)

    async def feed_finished(self, feed: Feed, models_dir: Path) -> None:
        """FEED_PROCESSING_FINISHED to the SQS destination of the feed's seller, if the seller subscribed."""
        subscription = self.subscription_of(feed.seller_id, FEED_PROCESSING_FINISHED)
        if subscription is None:
            return
        document = feed_processing_finished(feed, subscription.subscription_id, self._application_id)
        errors = list(feed_finished_schema(models_dir).iter_errors(document))
        if errors:
            raise InvalidNotification("; ".join(e.message for e in errors[:3]))
        self.feed_notifications.append(document)
        destination = self.destinations.get(subscription.destination_id)
        if destination is not None:
            await self._to_queue(destination, document)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0)
        return self._client

    async def _to_queue(self, destination: Destination, document: dict[str, Any]) -> None:
        if not self.sqs_endpoint:
            logger.warning("a notification for an SQS destination, but the sandbox has no --sqs-endpoint")
            self.sqs_failed += 1
            return
        url = queue_url(self.sqs_endpoint, destination.arn)
        form = {"Action": "SendMessage", "Version": "2012-11-05", "MessageBody": json.dumps(document)}
        if await self._send(lambda: self._http().post(url, data=form), "SQS"):
            self.sqs_delivered += 1
        else:
            self.sqs_failed += 1

    async def _to_url(self, url: str, document: dict[str, Any]) -> None:
        if await self._send(lambda: self._http().post(url, json=document), "HTTP"):
            self.delivered += 1
        else:
            self.failed += 1

    async def _send(self, post: Callable[[], Awaitable[httpx.Response]], via: str) -> bool:
        for attempt in range(DELIVERY_ATTEMPTS):
            try:
                response = await post()
                if response.status_code < 300:
                    return True
                logger.warning("ORDER_CHANGE %s delivery attempt %s got %s", via, attempt + 1, response.status_code)
            except httpx.HTTPError as exc:
                logger.warning("ORDER_CHANGE %s delivery attempt %s failed: %s", via, attempt + 1, type(exc).__name__)
            await asyncio.sleep(0.2 * 2**attempt)
        return False

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
