"""Pure parts of synchistory: record outcomes, error texts without input, the service's enums."""

from __future__ import annotations

import hashlib
from enum import StrEnum

import pytest
from pydantic import BaseModel, Field, ValidationError
from synchistory import SyncHistory, Tally, Trigger, describe


class Lane(StrEnum):
    POLL = "poll"


class Item(BaseModel):
    sku: str = Field(max_length=5)
    quantity: int


def test_a_tally_counts_outcomes_and_the_services_finer_names() -> None:
    tally = Tally()
    tally.count("fetched", 3)
    tally.success("published")
    tally.success("unchanged")
    tally.success()
    tally.failure("SKU-1", "quantity: must be at least 0")
    assert (tally.succeeded, tally.failed) == (3, 1)
    assert tally.counts == {"fetched": 3, "published": 1, "unchanged": 1}
    assert [(e.record_key, e.error) for e in tally.errors] == [("SKU-1", "quantity: must be at least 0")]


def test_validation_errors_are_described_by_location_and_kind_never_by_value() -> None:
    with pytest.raises(ValidationError) as caught:
        Item.model_validate({"sku": "SECRET-ADDRESS-LINE", "quantity": "many-secrets"})
    text = describe(caught.value)
    assert text == "unexpected data (2 errors): sku: string_too_long; quantity: int_parsing"
    assert "SECRET" not in text and "secrets" not in text


def test_other_exceptions_are_described_by_type_and_line_never_by_message() -> None:
    try:
        {"a": 1}["buyer@example.invalid"]
    except KeyError as exc:
        text = describe(exc)
    assert text.startswith("unexpected KeyError at synchistory/test_tally.py:")
    assert "buyer" not in text
    assert describe(ValueError("no traceback")) == "unexpected ValueError"


def test_tally_unexpected_is_a_failed_record_with_the_description() -> None:
    tally = Tally()
    tally.unexpected("ORDER-9", ZeroDivisionError("1/0 for 555-0199"))
    assert tally.failed == 1 and tally.errors[0].error == "unexpected ZeroDivisionError"


def test_a_service_adds_triggers_but_may_not_redefine_the_libs() -> None:
    class Mine(StrEnum):
        NOTIFICATION = "notification"

    history = SyncHistory("svc", lanes=Lane, triggers=Mine)
    assert history.trigger("notification") is Mine.NOTIFICATION and history.trigger("resync") is Trigger.RESYNC
    assert sorted(m.value for m in history.triggers) == [
        "custom_range", "manual", "notification", "resync", "scheduled"
    ]  # fmt: skip

    class Clash(StrEnum):
        AGAIN = "manual"

    with pytest.raises(ValueError, match="declared twice"):
        SyncHistory("svc", lanes=Lane, triggers=Clash)


def test_lock_keys_are_per_service_lane_and_connection_and_stable() -> None:
    a, b = SyncHistory("orders-ingest", lanes=Lane), SyncHistory("stock-publisher", lanes=Lane)
    assert a.lock_key("conn-1", Lane.POLL) != b.lock_key("conn-1", Lane.POLL)
    assert a.lock_key("conn-1", Lane.POLL) != a.lock_key("conn-2", Lane.POLL)
    # The key orders-ingest used before the lib, so old and new replicas exclude each other during a rollout.
    digest = hashlib.sha256(b"orders-ingest:poll:conn-1").digest()
    assert a.lock_key("conn-1", Lane.POLL) == int.from_bytes(digest[:8], "big", signed=True)
