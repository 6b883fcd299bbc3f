"""Replays the models' own `x-amzn-api-sandbox` static examples through the client.

For every example of every operation we call: the request the client sends carries the
example's parameters, a 2xx example response parses into our typed model, and a 4xx example
raises the typed error with Amazon's errors[] intact. Examples whose request our typed models
refuse before sending (e.g. `createdAfter=TEST_CASE_400`) must be refused, not sent.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest
import spapi
from spapi import (
    ConfirmShipmentRequest,
    CreateFeedSpecification,
    CreateReportSpecification,
    ListingsItemPatchRequest,
    SearchOrders,
    SpApiClient,
)
from spapi_fakes import SELLER

MODELS = Path("/work/shared/spapi-models")
CALLED = {
    "orders_2026-01-01.json": {"searchOrders", "getOrder"},
    "ordersV0.json": {"confirmShipment"},
    "feeds_2021-06-30.json": {"createFeedDocument", "createFeed", "getFeed", "getFeedDocument"},
    "listingsItems_2021-08-01.json": {"getListingsItem", "patchListingsItem"},
    "sellers.json": {"getMarketplaceParticipations"},
    "reports_2021-06-30.json": {"createReport", "getReport", "getReportDocument"},
}


def examples() -> list[Any]:
    found = []
    for file, wanted in CALLED.items():
        model = json.loads((MODELS / file).read_text())
        for path, methods in model["paths"].items():
            for method, op in methods.items():
                if method == "parameters" or op.get("operationId") not in wanted:
                    continue
                for status, response in op["responses"].items():
                    for n, example in enumerate(response.get("x-amzn-api-sandbox", {}).get("static", [])):
                        found.append(
                            pytest.param(
                                op["operationId"],
                                method.upper(),
                                path,
                                int(status),
                                example,
                                id=f"{op['operationId']}-{status}-{n}",
                            )
                        )
    return found


def p(example: dict, name: str, default: Any = None) -> Any:
    param = example["request"]["parameters"].get(name)
    return default if param is None or "value" not in param else param["value"]


def dt(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def invoke(client: SpApiClient, operation: str, ex: dict) -> Any:
    """Call our API the way the example's parameters describe."""
    if operation == "searchOrders":
        filters = SearchOrders(
            created_after=p(ex, "createdAfter"),
            marketplace_ids=p(ex, "marketplaceIds"),
            included_data=p(ex, "includedData"),
        )
        return await client.orders.search_orders_page(filters, pagination_token=p(ex, "paginationToken"))
    if operation == "getOrder":
        return await client.orders.get_order(p(ex, "orderId"), included_data=p(ex, "includedData", []))
    if operation == "confirmShipment":
        request = ConfirmShipmentRequest.model_validate(p(ex, "body"))
        return await client.orders_v0.confirm_shipment(p(ex, "orderId"), request)
    if operation == "createFeedDocument":
        body = p(ex, "body")
        if "contentType" not in body:
            raise pydantic.ValidationError.from_exception_data("CreateFeedDocumentSpecification", [])
        return await client.feeds.create_feed_document(body["contentType"])
    if operation == "createFeed":
        return await client.feeds.create_feed(CreateFeedSpecification.model_validate(p(ex, "body")))
    if operation == "getFeed":
        return await client.feeds.get_feed(p(ex, "feedId"))
    if operation == "getFeedDocument":
        return await client.feeds.get_feed_document(p(ex, "feedDocumentId"))
    if operation == "getListingsItem":
        return await client.listings.get_listings_item(
            p(ex, "sku", "GM-ZDPI-9B4E"), marketplace_ids=p(ex, "marketplaceIds", ["ATVPDKIKX0DER"])
        )
    if operation == "patchListingsItem":
        request = ListingsItemPatchRequest(
            product_type="PRODUCT",
            patches=[spapi.ListingsPatch(op="delete", path="/attributes/item_name")],
        )
        return await client.listings.patch_listings_item(
            p(ex, "sku", "GM-ZDPI-9B4E"),
            request,
            marketplace_ids=p(ex, "marketplaceIds", ["ATVPDKIKX0DER"]),
            included_data=p(ex, "includedData", []),
            mode=p(ex, "mode"),
        )
    if operation == "getMarketplaceParticipations":
        return await client.sellers.get_marketplace_participations()
    if operation == "createReport":
        return await client.reports.create_report(CreateReportSpecification.model_validate(p(ex, "body")))
    if operation == "getReport":
        return await client.reports.get_report(p(ex, "reportId"))
    if operation == "getReportDocument":
        return await client.reports.get_report_document(p(ex, "reportDocumentId"))
    raise AssertionError(operation)


def normalise(value: Any) -> Any:
    """Compare timestamps as instants: Amazon's examples carry milliseconds, we send whole seconds."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, str) and len(value) >= 20 and value[4:5] == "-" and "T" in value:
        try:
            return dt(value).replace(microsecond=0)
        except ValueError:
            return value
    return value


@pytest.mark.parametrize(("operation", "method", "path", "status", "example"), examples())
async def test_model_example_round_trips(operation, method, path, status, example):
    sent: list[httpx.Request] = []

    def amazon(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        body = example.get("response")
        return httpx.Response(status, json=body) if body not in (None, {}) or status != 204 else httpx.Response(204)

    client = SpApiClient(
        endpoint="https://sandbox.sellingpartnerapi-na.amazon.com",
        selling_partner_id=SELLER,
        token_source=spapi.StaticTokenSource("Atza|example"),
        http=httpx.AsyncClient(transport=httpx.MockTransport(amazon)),
        retry=spapi.RetryPolicy(max_attempts=1),
    )
    try:
        result = await invoke(client, operation, example)
    except pydantic.ValidationError:
        assert status >= 400, "a valid example must not be refused client-side"
        assert sent == [], "a request our models refuse must never be sent"
        return
    except spapi.SpApiError as error:
        assert status >= 400
        assert error.status == status
        assert [e.model_dump(exclude_none=True) for e in error.errors] == example["response"]["errors"]
    else:
        assert status < 300
        if status == 204:
            assert result is None
        else:
            assert result is not None

    request = sent[0]
    assert request.method == method
    params = example["request"]["parameters"]
    template = path
    for name, spec in params.items():
        if name == "body" or "value" not in spec:
            continue
        value = spec["value"]
        placeholder = "{" + name + "}"
        if placeholder in template:
            template = template.replace(placeholder, str(value))
        else:
            expected = ",".join(value) if isinstance(value, list) else str(value)
            assert request.url.params[name] == expected
    if "{" not in template:
        assert request.url.path == template
    body = params.get("body", {}).get("value")
    if body:
        assert normalise(json.loads(request.content)) == normalise(body)
