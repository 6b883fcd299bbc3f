"""The front door of every SP-API operation, in Amazon's order: token, faults, usage plan, model validation.

A handler only ever sees a request that its model accepts, and every reply is checked against the same
model before it leaves. A reply the model refuses is a sandbox bug: it becomes a loud 500 and is logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from spapi_sandbox import fba_inventory, feed_listing, feeds, listings, notifications_api, orders, reports, sellers
from spapi_sandbox.errors import ApiError
from spapi_sandbox.models import Operation
from spapi_sandbox.ratelimit import header_value
from spapi_sandbox.state import RequestRecord, iso, utcnow
from spapi_sandbox.world import Call, Reply, World

logger = logging.getLogger(__name__)

Handler = Callable[[World, Call], Awaitable[Reply]]

HANDLERS: dict[str, Handler] = {
    "searchOrders": orders.search_orders,
    "getOrder": orders.get_order,
    "confirmShipment": orders.confirm_shipment_handler,
    "createFeedDocument": feeds.create_feed_document,
    "createFeed": feeds.create_feed,
    "getFeed": feeds.get_feed,
    "getFeeds": feed_listing.get_feeds,
    "cancelFeed": feeds.cancel_feed,
    "getFeedDocument": feeds.get_feed_document,
    "getListingsItem": listings.get_listings_item,
    "patchListingsItem": listings.patch_listings_item,
    "putListingsItem": listings.put_listings_item,
    "getMarketplaceParticipations": sellers.get_marketplace_participations,
    "createReport": reports.create_report,
    "getReport": reports.get_report,
    "getReportDocument": reports.get_report_document,
    "getInventorySummaries": fba_inventory.get_inventory_summaries,
    "createDestination": notifications_api.create_destination,
    "getDestinations": notifications_api.get_destinations,
    "getDestination": notifications_api.get_destination,
    "deleteDestination": notifications_api.delete_destination,
    "createSubscription": notifications_api.create_subscription,
    "getSubscription": notifications_api.get_subscription,
    "getSubscriptionById": notifications_api.get_subscription_by_id,
    "deleteSubscriptionById": notifications_api.delete_subscription_by_id,
}
# Who a grantless call acts for: the application, which also owns its rate-limit buckets.
GRANTLESS_CALLER = "(application)"
NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"

# Amazon sends x-amzn-RateLimit-Limit on these statuses only (design/spapi-brief.md §12).
_RATE_HEADER_STATUSES = range(200, 300), (400, 404)


def _plan(operation_id: str, body: Any) -> str:
    if operation_id == "createFeed" and isinstance(body, dict) and body.get("feedType") == feeds.JSON_LISTINGS_FEED:
        return "createFeed:JSON_LISTINGS_FEED"
    return operation_id


def _parse_body(operation: Operation, request: Request, raw: bytes) -> Any:
    if operation.body is None or not raw:
        return None
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        if 415 in operation.responses:
            raise ApiError(415, "UnsupportedMediaType", "The request payload is in an unsupported format.")
        raise ApiError.invalid_input("The request body must be application/json.")
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError.invalid_input("The request body is not valid JSON.") from None


async def handle(world: World, operation: Operation, handler: Handler, request: Request) -> Response:
    request_id = str(uuid.uuid4())
    seller_id: str | None = None
    plan = operation.operation_id
    latency_after_s = 0.0
    try:
        if operation.operation_id in notifications_api.GRANTLESS_OPERATIONS:
            world.tokens.check_grantless(request.headers.get("x-amz-access-token"), NOTIFICATIONS_SCOPE)
            seller_id = GRANTLESS_CALLER
        else:
            seller_id = world.tokens.seller_for(request.headers.get("x-amz-access-token"))
            if seller_id not in world.state.sellers:
                raise ApiError.unauthorized("The selling partner of this access token is unknown.")
        decision = world.faults.decide(operation.operation_id)
        latency_after_s = decision.latency_after_s
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        if decision.error is not None:
            raise decision.error
        raw = await request.body()
        body = _parse_body(operation, request, raw)
        plan = _plan(operation.operation_id, body)
        if not world.limiter.allow(seller_id, plan):
            raise ApiError.quota_exceeded()
        query: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            query.setdefault(key, []).append(value)
        params = operation.parse_params(request.path_params, query)
        operation.check_body(body)
        base_url = str(request.base_url)
        reply = await handler(world, Call(seller_id=seller_id, params=params, body=body, base_url=base_url))
    except ApiError as error:
        reply = Reply(error.status, error.body())
    except ClientDisconnect:
        # The client gave up (e.g. during injected latency_ms) before its body was read: nothing was applied.
        logger.info("%s: client disconnected before the request was handled", operation.operation_id)
        return Response(status_code=499)
    problems = operation.response_problems(reply.status, reply.body)
    if problems:
        message = f"{operation.operation_id} {reply.status} breaks the model: {'; '.join(problems[:5])}"
        logger.error("sandbox bug: %s", message)
        world.violations.append(message)
        reply = Reply(500, ApiError.internal("Sandbox bug: the response failed model validation.").body())
    headers = {"x-amzn-RequestId": request_id, **reply.headers}
    if reply.status in _RATE_HEADER_STATUSES[0] or reply.status in _RATE_HEADER_STATUSES[1]:
        headers["x-amzn-RateLimit-Limit"] = header_value(world.limiter.rate(plan))
    world.state.requests.append(
        RequestRecord(
            at=iso(utcnow()),
            method=request.method,
            path=request.url.path,
            operation=operation.operation_id,
            seller_id=seller_id,
            status=reply.status,
        )
    )
    if latency_after_s:
        # The operation is applied and logged; only the answer is late (a client may give up and lose it).
        await asyncio.sleep(latency_after_s)
    if reply.body is None:
        return Response(status_code=reply.status, headers=headers)
    return JSONResponse(reply.body, status_code=reply.status, headers=headers)


def _endpoint(world: World, operation: Operation, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await handle(world, operation, handler, request)

    return endpoint


def mount(app: FastAPI, world: World) -> None:
    for operation_id, handler in HANDLERS.items():
        operation = world.models[operation_id]
        # SKUs may contain '/', which arrives decoded; let the last path parameter take the rest.
        path = operation.path.replace("{sku}", "{sku:path}")
        app.add_api_route(
            path,
            _endpoint(world, operation, handler),
            methods=[operation.method],
            name=operation_id,
            include_in_schema=False,
        )
