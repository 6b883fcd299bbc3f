"""shipment.confirmed 1.1: a seller cancellation's outcome rides on the topic, with no packages.

The one accepted break against the 1.0 schema is pinned here, so anything else that changes it still fails.
"""

import json
from pathlib import Path

import contracts
import pytest
from contracts import ShipmentConfirmedV1, topic_spec
from contracts.export import compatibility_problems, event_schema
from contracts.shipments import cancellation_shipment_id, completion_shipment_id
from jsonschema import Draft202012Validator
from pydantic import ValidationError

# libs/contracts/schemas/shipment.confirmed.v1.json as published before seller cancellations (1.0).
BEFORE = json.loads((Path(__file__).parent / "shipment.confirmed.v1.0.json").read_text())
ORDER = "113-8871264-0934622"


def _cancellation(**fields):
    return {
        "shipment_id": cancellation_shipment_id(ORDER),
        "connection_id": "conn-us-acme",
        "marketplace_id": "ATVPDKIKX0DER",
        "amazon_order_id": ORDER,
        "packages": [],
        "confirmed_at": "2026-08-08T10:00:00Z",
        "cancellation": {
            "scope": "items",
            "outcome": "rejected",
            "cancel_reason": "NoInventory",
            "items": [{"order_item_id": "79039765272157", "quantity": 1}],
            "feed_id": "50012019000",
            "errors": [{"code": "18028", "message": "The order item code is not valid."}],
        }
        | fields,
    }


def _event(data: dict) -> dict:
    payload = ShipmentConfirmedV1.model_validate(data)
    event = contracts.new_event("shipment.confirmed", payload, source="tests", revision="1")
    return json.loads(contracts.encode(event).value)


def test_the_only_change_from_1_0_is_packages_may_be_empty_on_a_cancellation():
    problems = compatibility_problems(BEFORE, event_schema(topic_spec("shipment.confirmed")))

    assert problems == [
        "#.data(ShipmentConfirmedV1).packages: keyword 'minItems' removed",
        "#.data(ShipmentConfirmedV1): keyword 'anyOf' added",
    ]


def test_the_published_schema_takes_a_cancellation_and_still_refuses_a_shipment_without_packages(validators):
    schema = validators["shipment.confirmed"]
    event = _event(_cancellation())
    no_packages = json.loads(json.dumps(event))
    del no_packages["data"]["cancellation"]

    assert list(schema.iter_errors(event)) == []
    assert list(schema.iter_errors(no_packages)) != []


def test_a_consumer_on_the_1_0_schema_refuses_a_cancellation_rather_than_misread_it(validators):
    before = Draft202012Validator(BEFORE)
    shipment = json.loads(contracts.encode(contracts.example_event("shipment.confirmed")).value)

    assert list(before.iter_errors(shipment)) == []  # shipments are unchanged for it
    assert any(e.validator == "minItems" for e in before.iter_errors(_event(_cancellation())))


def test_the_model_wants_packages_or_a_cancellation_never_both():
    data = _cancellation()
    shipment = json.loads(contracts.encode(contracts.example_event("shipment.confirmed")).value)["data"]

    with pytest.raises(ValidationError, match="only with exactly one of cancellation or unconfirmed"):
        ShipmentConfirmedV1.model_validate({**data, "cancellation": None})
    with pytest.raises(ValidationError, match="carries no packages"):
        ShipmentConfirmedV1.model_validate({**shipment, "cancellation": data["cancellation"]})
    whole = ShipmentConfirmedV1.model_validate(_cancellation(scope="order", items=None, outcome="accepted", errors=[]))
    assert (whole.packages, whole.cancellation.scope if whole.cancellation else None) == ([], "order")


def _unconfirmed() -> dict:
    data = _cancellation()
    del data["cancellation"]
    return {
        **data,
        "shipment_id": completion_shipment_id(ORDER),
        "unconfirmed": {"items": [{"order_item_id": "79039765272157", "quantity": 2}]},
    }


def test_a_completed_order_with_unconfirmed_items_rides_like_a_cancellation(validators):
    schema = validators["shipment.confirmed"]
    event = _event(_unconfirmed())
    assert list(schema.iter_errors(event)) == []
    assert any(e.validator == "minItems" for e in Draft202012Validator(BEFORE).iter_errors(event))

    with pytest.raises(ValidationError, match="exactly one"):
        ShipmentConfirmedV1.model_validate({**_unconfirmed(), "cancellation": _cancellation()["cancellation"]})
    with pytest.raises(ValidationError, match="at least 1 item"):
        ShipmentConfirmedV1.model_validate({**_unconfirmed(), "unconfirmed": {"items": []}})
