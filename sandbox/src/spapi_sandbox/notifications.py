"""ORDER_CHANGE notifications, built from an order and POSTed to the configured destination.

Amazon delivers through SQS or EventBridge; the sandbox POSTs the same JSON document to an HTTP URL.
Every payload is validated against notification_OrderChange.json before it leaves.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING, Any

import httpx

from spapi_sandbox.state import iso, utcnow

if TYPE_CHECKING:
    import jsonschema

    from spapi_sandbox.state import Order

logger = logging.getLogger(__name__)

APPLICATION_ID = "amzn1.sp.solution.sandbox-application"
SUBSCRIPTION_ID = "sandbox-order-change-subscription"
DELIVERY_ATTEMPTS = 3


class InvalidNotification(RuntimeError):
    """The sandbox built a notification its own schema refuses: a sandbox bug."""


def order_change(order: Order, change_type: str, reason: str) -> dict[str, Any]:
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
            "ApplicationId": APPLICATION_ID,
            "SubscriptionId": SUBSCRIPTION_ID,
            "PublishTime": now,
            "NotificationId": str(uuid.uuid4()),
        },
    }


class Notifier:
    def __init__(self, schema: jsonschema.protocols.Validator, default_url: str | None) -> None:
        self._schema = schema
        self._default_url = default_url
        self.url = default_url
        self.sent: list[dict[str, Any]] = []
        self.delivered = 0
        self.failed = 0
        self._client: httpx.AsyncClient | None = None

    def reset(self) -> None:
        self.url = self._default_url
        self.sent.clear()
        self.delivered = self.failed = 0

    def build(self, order: Order, change_type: str, reason: str) -> dict[str, Any]:
        document = order_change(order, change_type, reason)
        errors = list(self._schema.iter_errors(document))
        if errors:
            raise InvalidNotification("; ".join(e.message for e in errors[:3]))
        self.sent.append(document)
        return document

    async def deliver(self, document: dict[str, Any]) -> None:
        url = self.url
        if not url:
            return
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0)
        for attempt in range(DELIVERY_ATTEMPTS):
            try:
                response = await self._client.post(url, json=document)
                if response.status_code < 300:
                    self.delivered += 1
                    return
            except httpx.HTTPError as exc:
                logger.warning("ORDER_CHANGE delivery attempt %s failed: %s", attempt + 1, type(exc).__name__)
            await asyncio.sleep(0.2 * 2**attempt)
        self.failed += 1

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
