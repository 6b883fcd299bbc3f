"""Dead letters keep no buyer PII: every field the contracts mark as PII is emptied, whatever topic it came on."""

from __future__ import annotations

import json

import contracts
from messaging.dead_letter import without_pii


def _order_received() -> bytes:
    value = contracts.encode(contracts.example_event("order.received")).value
    assert value is not None
    return value


def test_every_pii_field_of_an_order_received_is_emptied_and_named() -> None:
    original = json.loads(_order_received())
    value, removed = without_pii("order.received", _order_received())

    letter = json.loads(value or b"")
    expected = [f"data.{path}" for path in contracts.pii_fields(contracts.topic_spec("order.received").payload)]
    present = [p for p in expected if _at(original, p) is not None]
    assert present, "the example order carries PII, or this test proves nothing"
    assert sorted(removed) == sorted(present)
    for path in expected:
        assert _at(letter, path) is None
    # Everything else is kept as it was, so the letter still says what failed.
    assert letter["id"] == original["id"]
    assert letter["data"]["amazon_order_id"] == original["data"]["amazon_order_id"]


def test_pii_on_the_wrong_topic_is_emptied_too() -> None:
    email = json.loads(_order_received())["data"]["buyer_email"]
    assert email
    value, removed = without_pii("stock.changed", _order_received())
    assert "data.buyer_email" in removed
    assert email.encode() not in (value or b"")


def test_a_value_without_pii_is_left_byte_for_byte() -> None:
    value = contracts.encode(contracts.example_event("stock.changed")).value
    assert without_pii("stock.changed", value) == (value, [])


def test_an_unreadable_value_is_withheld_only_where_its_topic_carries_pii() -> None:
    broken = _order_received()[:-40]
    assert without_pii("order.received", broken) == (b"", ["*"])
    assert without_pii("stock.changed", b"{not json") == (b"{not json", [])
    assert without_pii(None, b"{not json") == (b"", ["*"])
    assert without_pii("order.received", None) == (None, [])


def _at(document: dict, path: str) -> object:
    node: object = document
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node
