"""Replay the models' own `x-amzn-api-sandbox` static examples for every operation the sandbox serves.

Amazon's static sandbox answers canned responses; ours is stateful, so bodies differ. What must hold:
every example's request passes (or, for Amazon's 400 examples, fails) where the semantics agree, after the
state the example presumes is arranged (orders, items and listings with the example's ids, marketplaces).
Examples that name resources which only exist in Amazon's canned world (feed ids like "feedId1", documents
"0356cf79-…", a pagination token never issued) cannot succeed in a stateful sandbox; DEVIATIONS pins our
answer for each of them, so a change in behaviour fails this test.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from spapi_sandbox.config import find_models_dir
from spapi_sandbox.models import load_models
from spapi_sandbox.notifications_api import GRANTLESS_OPERATIONS
from testkit.sandbox import Sandbox

MODELS = load_models(find_models_dir())
SELLER = "A1SANDBOXSELLER"
MARKETPLACES = ["ATVPDKIKX0DER", "A1VC38T7YXB528", "A1F83G8C2ARO7P", "A2Q3Y263D00KWC", "A1PA6795UKMFR9"]
EXAMPLE_ORDERS = {
    "171-9876543-2109876": "ATVPDKIKX0DER",
    "028-1234567-8901234": "ATVPDKIKX0DER",
    "114-9876543-1234567": "ATVPDKIKX0DER",
    "902-1106328-1059050": "ATVPDKIKX0DER",
}
EXAMPLE_SKUS = ["GM-ZDPI-9B4E", "VALIDATION_VALID", "VALIDATION_INVALID"]
DEFAULT_BODIES = {
    "patchListingsItem": {
        "productType": "PRODUCT",
        "patches": [
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}],
            }
        ],
    },
    "putListingsItem": {
        "productType": "PRODUCT",
        "requirements": "LISTING_OFFER_ONLY",
        "attributes": {"fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}]},
    },
    "createDestination": {
        "name": "SQSDestination",
        "resourceSpecification": {"sqs": {"arn": "arn:aws:sqs:us-east-2:444455556666:queue1"}},
    },
    "createSubscription": {"payloadVersion": "1.0", "destinationId": "TEST_CASE_200_DESTINATION_ID"},
}
# (operationId, example status, index among that status's examples) -> (our status, why)
DEVIATIONS: dict[tuple[str, int, int], tuple[int, str]] = {
    ("searchOrders", 200, 1): (400, "the paginationToken was never issued by this sandbox"),
    ("getOrder", 400, 0): (404, "TEST_CASE_400 is a canned trigger; to a stateful Amazon it is an unknown order"),
    ("createFeed", 202, 0): (400, "inputFeedDocumentId names a canned document that was never uploaded"),
    ("cancelFeed", 200, 0): (400, "'ID1' is not a feed id the sandbox issues (numeric)"),
    ("getFeed", 200, 0): (400, "'feedId1' is not a feed id the sandbox issues (numeric)"),
    ("getFeedDocument", 200, 0): (400, "the document id is not one the sandbox issued"),
    ("getListingsItem", 400, 0): (404, "'BadSKU' is a canned trigger; to a stateful Amazon it is an unknown SKU"),
    ("patchListingsItem", 400, 0): (200, "'BadSKU' is unknown: 200 with status INVALID and an issue"),
    ("putListingsItem", 400, 0): (200, "'BadSKU' is a valid new SKU for a full PUT"),
    ("getReport", 200, 0): (400, "'ID323' is not a report id the sandbox issues (numeric)"),
    ("getReportDocument", 200, 0): (400, "the document id is not one the sandbox issued"),
    ("getSubscription", 200, 0): (404, "the seller has no subscription until one is created"),
    ("createSubscription", 200, 0): (400, "TEST_CASE_200_DESTINATION_ID names a destination never created"),
    ("getSubscriptionById", 200, 0): (404, "the subscription id was never issued by this sandbox"),
    ("deleteSubscriptionById", 200, 0): (404, "the subscription id was never issued by this sandbox"),
    ("getDestination", 200, 0): (404, "the destination id was never issued by this sandbox"),
    ("deleteDestination", 200, 0): (404, "the destination id was never issued by this sandbox"),
}
# Parameters the examples leave out although the operation requires them.
FILLERS = {
    "sellerId": SELLER,
    "sku": "GM-ZDPI-9B4E",
    "marketplaceIds": ["ATVPDKIKX0DER"],
    "notificationType": "ORDER_CHANGE",
    "subscriptionId": "TEST_CASE_200_SUBSCRIPTION_ID",
    "destinationId": "TEST_CASE_200_DESTINATION_ID",
}


def _grantless_headers(sandbox: Sandbox) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "scope": "sellingpartnerapi::notifications",
        "client_id": "examples",
        "client_secret": "examples",
    }
    return {"x-amz-access-token": sandbox.client.post("/auth/o2/token", data=form).json()["access_token"]}


def _cases() -> list[Any]:
    cases = []
    for operation in MODELS.operations.values():
        counters: dict[int, int] = {}
        for example in operation.sandbox_examples:
            index = counters.get(example["status"], 0)
            counters[example["status"]] = index + 1
            key = (operation.operation_id, example["status"], index)
            cases.append(pytest.param(operation.operation_id, example, key, id="-".join(map(str, key))))
    return cases


def _arrange(sandbox: Sandbox) -> None:
    sandbox.create_seller(MARKETPLACES, selling_partner_id=SELLER)
    for sku in EXAMPLE_SKUS:
        sandbox.create_listing(sku, quantity=5)
    for order_id, marketplace in EXAMPLE_ORDERS.items():
        sandbox.create_order(
            [{"sku": "GM-ZDPI-9B4E", "quantity": 1, "order_item_id": "79039765272157"}],
            amazon_order_id=order_id,
            marketplace_id=marketplace,
        )


def _request(operation_id: str, example: dict[str, Any]) -> tuple[str, str, dict[str, str], Any]:
    operation = MODELS[operation_id]
    given = {name: spec.get("value") for name, spec in example["request"]["parameters"].items()}
    path, query = operation.path, {}
    for param in operation.parameters:
        value = given.get(param.name, FILLERS.get(param.name) if param.required else None)
        if value is None:
            continue
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        if param.location == "path":
            path = path.replace("{" + param.name + "}", text)
        else:
            query[param.name] = text
    body = given.get("body") if "body" in given else None
    if operation.body is not None and body is None:
        body = DEFAULT_BODIES.get(operation_id)
    return operation.method, path, query, body


@pytest.mark.parametrize(("operation_id", "example", "key"), _cases())
def test_model_example_is_answered_as_amazon_would(
    sandbox: Sandbox, operation_id: str, example: dict[str, Any], key: tuple[str, int, int]
) -> None:
    _arrange(sandbox)
    method, path, query, body = _request(operation_id, example)
    headers = _grantless_headers(sandbox) if operation_id in GRANTLESS_OPERATIONS else sandbox.headers()
    if body is not None:
        headers["content-type"] = "application/json"
    response = sandbox.client.request(
        method, path, params=query, headers=headers, content=None if body is None else json.dumps(body)
    )
    expected, _why = DEVIATIONS.get(key, (example["status"], "same as Amazon's example"))
    assert response.status_code == expected, response.text


def test_every_served_operation_with_examples_is_replayed() -> None:
    replayed = {case.values[0] for case in _cases()}
    assert replayed == {
        "searchOrders",
        "getOrder",
        "confirmShipment",
        "createFeedDocument",
        "createFeed",
        "getFeed",
        "getFeeds",
        "getFeedDocument",
        "cancelFeed",
        "getListingsItem",
        "patchListingsItem",
        "putListingsItem",
        "getMarketplaceParticipations",
        "createReport",
        "getReport",
        "getReportDocument",
        "createDestination",
        "getDestinations",
        "getDestination",
        "deleteDestination",
        "createSubscription",
        "getSubscription",
        "getSubscriptionById",
        "deleteSubscriptionById",
    }
    assert set(DEVIATIONS) <= {case.values[2] for case in _cases()}
