"""The SP-API operations we call: path, method, rate-limit key, and whether a repeat is safe."""

from __future__ import annotations

from dataclasses import dataclass

from .rate_limit import Priority


@dataclass(frozen=True, slots=True)
class Operation:
    api: str
    name: str
    method: str
    path: str
    # True when sending the same request twice leaves Amazon as if it had been sent once, so a
    # read timeout can be retried. 429/500/503 are retried either way: Amazon did not apply them.
    idempotent: bool
    priority: Priority = Priority.NORMAL

    @property
    def key(self) -> str:
        return f"{self.api}.{self.name}"


SEARCH_ORDERS = Operation("orders", "searchOrders", "GET", "/orders/2026-01-01/orders", True)
GET_ORDER = Operation("orders", "getOrder", "GET", "/orders/2026-01-01/orders/{orderId}", True)
CONFIRM_SHIPMENT = Operation(
    "ordersV0", "confirmShipment", "POST", "/orders/v0/orders/{orderId}/shipmentConfirmation", False, Priority.HIGH
)

# Creating a feed document only reserves an upload slot; an unused one expires, so repeating is harmless.
CREATE_FEED_DOCUMENT = Operation("feeds", "createFeedDocument", "POST", "/feeds/2021-06-30/documents", True)
CREATE_FEED = Operation("feeds", "createFeed", "POST", "/feeds/2021-06-30/feeds", False)
GET_FEED = Operation("feeds", "getFeed", "GET", "/feeds/2021-06-30/feeds/{feedId}", True)
GET_FEED_DOCUMENT = Operation("feeds", "getFeedDocument", "GET", "/feeds/2021-06-30/documents/{feedDocumentId}", True)

_LISTINGS_ITEM = "/listings/2021-08-01/items/{sellerId}/{sku}"
# A patch carries absolute values (replace/merge of an attribute), so applying it twice is the same as once.
PATCH_LISTINGS_ITEM = Operation("listings", "patchListingsItem", "PATCH", _LISTINGS_ITEM, True)
GET_LISTINGS_ITEM = Operation("listings", "getListingsItem", "GET", _LISTINGS_ITEM, True)

GET_MARKETPLACE_PARTICIPATIONS = Operation(
    "sellers", "getMarketplaceParticipations", "GET", "/sellers/v1/marketplaceParticipations", True
)

# A duplicate report request costs quota but changes nothing on Amazon.
CREATE_REPORT = Operation("reports", "createReport", "POST", "/reports/2021-06-30/reports", True, Priority.LOW)
GET_REPORT = Operation("reports", "getReport", "GET", "/reports/2021-06-30/reports/{reportId}", True, Priority.LOW)
GET_REPORT_DOCUMENT = Operation(
    "reports", "getReportDocument", "GET", "/reports/2021-06-30/documents/{reportDocumentId}", True, Priority.LOW
)

_DESTINATIONS = "/notifications/v1/destinations"
_SUBSCRIPTION = "/notifications/v1/subscriptions/{notificationType}"
# A second createDestination for the same ARN, or createSubscription for a subscribed seller, is refused
# with 409 rather than applied twice, so both may be repeated after a timeout.
CREATE_DESTINATION = Operation("notifications", "createDestination", "POST", _DESTINATIONS, True)
GET_DESTINATIONS = Operation("notifications", "getDestinations", "GET", _DESTINATIONS, True)
DELETE_DESTINATION = Operation("notifications", "deleteDestination", "DELETE", _DESTINATIONS + "/{destinationId}", True)
CREATE_SUBSCRIPTION = Operation("notifications", "createSubscription", "POST", _SUBSCRIPTION, True)
GET_SUBSCRIPTION = Operation("notifications", "getSubscription", "GET", _SUBSCRIPTION, True)
GET_SUBSCRIPTION_BY_ID = Operation(
    "notifications", "getSubscriptionById", "GET", _SUBSCRIPTION + "/{subscriptionId}", True
)
DELETE_SUBSCRIPTION_BY_ID = Operation(
    "notifications", "deleteSubscriptionById", "DELETE", _SUBSCRIPTION + "/{subscriptionId}", True
)

ALL_OPERATIONS = (
    SEARCH_ORDERS,
    GET_ORDER,
    CONFIRM_SHIPMENT,
    CREATE_FEED_DOCUMENT,
    CREATE_FEED,
    GET_FEED,
    GET_FEED_DOCUMENT,
    PATCH_LISTINGS_ITEM,
    GET_LISTINGS_ITEM,
    GET_MARKETPLACE_PARTICIPATIONS,
    CREATE_REPORT,
    GET_REPORT,
    GET_REPORT_DOCUMENT,
    CREATE_DESTINATION,
    GET_DESTINATIONS,
    DELETE_DESTINATION,
    CREATE_SUBSCRIPTION,
    GET_SUBSCRIPTION,
    GET_SUBSCRIPTION_BY_ID,
    DELETE_SUBSCRIPTION_BY_ID,
)
