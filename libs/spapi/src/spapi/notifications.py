"""Notifications v1: the application's destinations (grantless) and a seller's subscriptions to them.

Destinations belong to the application, not to a seller, so their calls carry a grantless token
(LWA client_credentials, scope `sellingpartnerapi::notifications`) through a client built by
`grantless_client`. So do getSubscriptionById and deleteSubscriptionById (notifications.json says
both are grantless). Creating and reading a seller's subscription needs that seller's own token.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from .auth import CachingTokenSource, LwaClient
from .errors import NotFound
from .models import SpApiModel
from .operations import (
    CREATE_DESTINATION,
    CREATE_SUBSCRIPTION,
    DELETE_DESTINATION,
    DELETE_SUBSCRIPTION_BY_ID,
    GET_DESTINATIONS,
    GET_SUBSCRIPTION,
    GET_SUBSCRIPTION_BY_ID,
)
from .rate_limit import RateLimiter
from .retry import RetryPolicy, Sleep

if TYPE_CHECKING:
    from .client import SpApiClient

NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"
ORDER_CHANGE = "ORDER_CHANGE"
# The rate-limit bucket owner of grantless calls: their usage plan is the application's, not a seller's.
APPLICATION = "application"


class GrantlessTokenSource(CachingTokenSource):
    """Grantless access tokens (LWA client_credentials) for one scope, cached and renewed ahead of expiry."""

    def __init__(
        self, lwa: LwaClient, scope: str = NOTIFICATIONS_SCOPE, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(self._fetch, clock=clock)
        self._lwa = lwa
        self.scope = scope

    async def _fetch(self) -> tuple[str, float]:
        tokens = await self._lwa.client_credentials(self.scope)
        return tokens.access_token.get_secret_value(), self._clock() + tokens.expires_in

    def __repr__(self) -> str:
        return f"GrantlessTokenSource(scope={self.scope!r})"


class SqsResource(SpApiModel):
    arn: str


class DestinationResourceSpecification(SpApiModel):
    sqs: SqsResource | None = None


class DestinationResource(SpApiModel):
    sqs: SqsResource | None = None


class Destination(SpApiModel):
    destination_id: str
    name: str
    resource: DestinationResource


class CreateDestinationRequest(SpApiModel):
    name: str
    resource_specification: DestinationResourceSpecification


class EventFilter(SpApiModel):
    event_filter_type: str
    marketplace_ids: list[str] | None = None
    order_change_types: list[str] | None = None


class ProcessingDirective(SpApiModel):
    event_filter: EventFilter | None = None


class CreateSubscriptionRequest(SpApiModel):
    payload_version: str
    destination_id: str
    processing_directive: ProcessingDirective | None = None


class Subscription(SpApiModel):
    subscription_id: str
    payload_version: str
    destination_id: str
    processing_directive: ProcessingDirective | None = None


class _DestinationResponse(SpApiModel):
    payload: Destination


class _DestinationsResponse(SpApiModel):
    payload: list[Destination] = []


class _SubscriptionResponse(SpApiModel):
    payload: Subscription


class NotificationsApi:
    """A seller's subscriptions: `client.notifications` on that seller's SpApiClient."""

    def __init__(self, client: SpApiClient) -> None:
        self._client = client

    async def create_subscription(
        self,
        notification_type: str,
        destination_id: str,
        *,
        payload_version: str = "1.0",
        processing_directive: ProcessingDirective | None = None,
    ) -> Subscription:
        request = CreateSubscriptionRequest(
            payload_version=payload_version, destination_id=destination_id, processing_directive=processing_directive
        )
        response = await self._client.call(
            CREATE_SUBSCRIPTION, path_params={"notificationType": notification_type}, json=request.to_wire()
        )
        return _SubscriptionResponse.model_validate_json(response.content).payload

    async def get_subscription(
        self, notification_type: str, *, payload_version: str | None = None
    ) -> Subscription | None:
        """The seller's subscription to `notification_type`, or None when there is none (Amazon's 404)."""
        try:
            response = await self._client.call(
                GET_SUBSCRIPTION,
                path_params={"notificationType": notification_type},
                params={"payloadVersion": payload_version},
            )
        except NotFound:
            return None
        return _SubscriptionResponse.model_validate_json(response.content).payload


class GrantlessNotificationsApi:
    """The application's destinations and subscriptions by id, on a client from `grantless_client`."""

    def __init__(self, client: SpApiClient) -> None:
        self._client = client

    async def create_destination(self, name: str, *, sqs_arn: str) -> Destination:
        request = CreateDestinationRequest(
            name=name, resource_specification=DestinationResourceSpecification(sqs=SqsResource(arn=sqs_arn))
        )
        response = await self._client.call(CREATE_DESTINATION, json=request.to_wire())
        return _DestinationResponse.model_validate_json(response.content).payload

    async def get_destinations(self) -> list[Destination]:
        response = await self._client.call(GET_DESTINATIONS)
        return _DestinationsResponse.model_validate_json(response.content).payload

    async def delete_destination(self, destination_id: str) -> None:
        await self._client.call(DELETE_DESTINATION, path_params={"destinationId": destination_id})

    async def get_subscription_by_id(self, notification_type: str, subscription_id: str) -> Subscription:
        response = await self._client.call(
            GET_SUBSCRIPTION_BY_ID,
            path_params={"notificationType": notification_type, "subscriptionId": subscription_id},
        )
        return _SubscriptionResponse.model_validate_json(response.content).payload

    async def delete_subscription_by_id(self, notification_type: str, subscription_id: str) -> None:
        await self._client.call(
            DELETE_SUBSCRIPTION_BY_ID,
            path_params={"notificationType": notification_type, "subscriptionId": subscription_id},
        )


def grantless_client(
    *,
    endpoint: str,
    lwa: LwaClient,
    http: httpx.AsyncClient,
    scope: str = NOTIFICATIONS_SCOPE,
    limiter: RateLimiter | None = None,
    retry: RetryPolicy | None = None,
    rng: random.Random | None = None,
    sleep: Sleep = asyncio.sleep,
) -> GrantlessNotificationsApi:
    """The application's Notifications client for one regional endpoint, with its own grantless token."""
    from .client import SpApiClient

    client = SpApiClient(
        endpoint=endpoint,
        selling_partner_id=APPLICATION,
        token_source=GrantlessTokenSource(lwa, scope),
        http=http,
        limiter=limiter,
        retry=retry,
        rng=rng,
        sleep=sleep,
    )
    return GrantlessNotificationsApi(client)
