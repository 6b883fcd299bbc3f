"""Notifications v1: the application's destinations and each seller's subscriptions.

Destinations, getSubscriptionById and deleteSubscriptionById are grantless (the gateway lets only a
client_credentials token of the notifications scope call them); createSubscription and getSubscription act
for the seller of the token. One destination per ARN and one subscription per (seller, notification type),
as Amazon refuses duplicates with 409.
"""

from __future__ import annotations

import uuid

from spapi_sandbox.errors import ApiError
from spapi_sandbox.notifications import FEED_PROCESSING_FINISHED, ORDER_CHANGE, Destination, Subscription
from spapi_sandbox.world import Call, Reply, World

GRANTLESS_OPERATIONS = frozenset(
    {
        "createDestination",
        "getDestinations",
        "getDestination",
        "deleteDestination",
        "getSubscriptionById",
        "deleteSubscriptionById",
    }
)
# The notification types the sandbox can deliver.
SUPPORTED_TYPES = frozenset({ORDER_CHANGE, FEED_PROCESSING_FINISHED})


def _conflict(message: str) -> ApiError:
    return ApiError(409, "Conflict", message)


def _destination_wire(destination: Destination) -> dict[str, object]:
    return {
        "destinationId": destination.destination_id,
        "name": destination.name,
        "resource": {"sqs": {"arn": destination.arn}},
    }


def _notification_type(call: Call) -> str:
    notification_type = str(call.params["notificationType"])
    if notification_type not in SUPPORTED_TYPES:
        raise ApiError.invalid_input(
            "The sandbox delivers ORDER_CHANGE and FEED_PROCESSING_FINISHED notifications only."
        )
    return notification_type


async def create_destination(world: World, call: Call) -> Reply:
    spec = call.body["resourceSpecification"]
    sqs = spec.get("sqs")
    if sqs is None or "eventBridge" in spec:
        raise ApiError.invalid_input("The sandbox supports SQS destinations only, one resource type per destination.")
    if any(d.arn == sqs["arn"] for d in world.notifier.destinations.values()):
        raise _conflict("A destination for this resource already exists.")
    destination = Destination(str(uuid.uuid4()), call.body["name"], sqs["arn"])
    world.notifier.destinations[destination.destination_id] = destination
    return Reply(200, {"payload": _destination_wire(destination)})


async def get_destinations(world: World, call: Call) -> Reply:
    return Reply(200, {"payload": [_destination_wire(d) for d in world.notifier.destinations.values()]})


async def get_destination(world: World, call: Call) -> Reply:
    destination = world.notifier.destinations.get(call.params["destinationId"])
    if destination is None:
        raise ApiError.not_found("The destination does not exist.")
    return Reply(200, {"payload": _destination_wire(destination)})


async def delete_destination(world: World, call: Call) -> Reply:
    destination_id = call.params["destinationId"]
    if destination_id not in world.notifier.destinations:
        raise ApiError.not_found("The destination does not exist.")
    if any(s.destination_id == destination_id for s in world.notifier.subscriptions.values()):
        raise _conflict("The destination still has subscriptions.")
    del world.notifier.destinations[destination_id]
    return Reply(200, {})


async def create_subscription(world: World, call: Call) -> Reply:
    notification_type = _notification_type(call)
    if call.body["destinationId"] not in world.notifier.destinations:
        raise ApiError.invalid_input("The destination does not exist.")
    if call.body["payloadVersion"] != "1.0":
        raise ApiError.invalid_input(f"{notification_type} subscriptions have payload version 1.0 only.")
    if world.notifier.subscription_of(call.seller_id, notification_type) is not None:
        raise _conflict("A subscription for this notification type already exists.")
    subscription = Subscription(
        subscription_id=str(uuid.uuid4()),
        seller_id=call.seller_id,
        notification_type=notification_type,
        payload_version=call.body["payloadVersion"],
        destination_id=call.body["destinationId"],
        processing_directive=call.body.get("processingDirective"),
    )
    world.notifier.subscriptions[subscription.subscription_id] = subscription
    return Reply(200, {"payload": subscription.wire()})


async def get_subscription(world: World, call: Call) -> Reply:
    subscription = world.notifier.subscription_of(call.seller_id, _notification_type(call))
    wanted_version = call.params.get("payloadVersion")
    if subscription is None or (wanted_version is not None and subscription.payload_version != wanted_version):
        raise ApiError.not_found("The subscription does not exist.")
    return Reply(200, {"payload": subscription.wire()})


def _by_id(world: World, call: Call) -> Subscription:
    subscription = world.notifier.subscriptions.get(call.params["subscriptionId"])
    if subscription is None or subscription.notification_type != call.params["notificationType"]:
        raise ApiError.not_found("The subscription does not exist.")
    return subscription


async def get_subscription_by_id(world: World, call: Call) -> Reply:
    return Reply(200, {"payload": _by_id(world, call).wire()})


async def delete_subscription_by_id(world: World, call: Call) -> Reply:
    del world.notifier.subscriptions[_by_id(world, call).subscription_id]
    return Reply(200, {})
