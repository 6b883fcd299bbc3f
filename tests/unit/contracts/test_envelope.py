import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from contracts import (
    EVENT_ID_NAMESPACE,
    EXAMPLES,
    ContractError,
    OrderReceivedV1,
    StockChangedV1,
    UnknownTopicError,
    new_event,
)


def _stock(**changes: object) -> StockChangedV1:
    return StockChangedV1.model_validate({**EXAMPLES["stock.changed"][0], **changes})


def _order() -> OrderReceivedV1:
    return OrderReceivedV1.model_validate(EXAMPLES["order.received"][0])


def test_id_is_uuid5_of_type_business_key_and_revision():
    event = new_event("order.received", _order(), source="orders-ingest", revision="2026-08-06T14:52:11+00:00")

    expected = uuid.uuid5(EVENT_ID_NAMESPACE, "order.received:113-8871264-0934622:2026-08-06T14:52:11+00:00")
    assert event.id == str(expected)


def test_namespace_is_the_documented_one():
    assert EVENT_ID_NAMESPACE == uuid.uuid5(uuid.NAMESPACE_URL, "urn:amazon-connector:event-id")


def test_reemitting_the_same_fact_gives_the_same_id_even_at_another_time():
    first = new_event("order.received", _order(), source="orders-ingest", revision="r1")
    again = new_event(
        "order.received", _order(), source="orders-ingest", revision="r1", time=datetime.now(UTC) + timedelta(hours=1)
    )

    assert first.id == again.id
    assert first.time != again.time


def test_new_revision_gives_a_new_id():
    first = new_event("order.received", _order(), source="orders-ingest", revision="r1")
    second = new_event("order.received", _order(), source="orders-ingest", revision="r2")

    assert first.id != second.id


def test_stock_in_two_warehouses_at_the_same_instant_are_distinct_events():
    # The Kafka key is the SKU only; the id must still tell the warehouses apart or one would be deduplicated.
    reno = new_event("stock.changed", _stock(warehouse_id="WH-RENO"), source="wms", revision="t")
    newark = new_event("stock.changed", _stock(warehouse_id="WH-NEWARK"), source="wms", revision="t")

    assert reno.id != newark.id


def test_defaults_correlation_connection_subject_and_time():
    before = datetime.now(UTC)
    event = new_event("order.received", _order(), source="orders-ingest", revision="r1")

    assert event.specversion == "1.0"
    assert event.type == "order.received"
    assert event.correlationid == event.id
    assert event.causationid is None
    assert event.connectionid == "conn-us-acme"
    assert event.subject == "113-8871264-0934622"
    assert event.dataschema == "urn:amazon-connector:schema:order.received:v1"
    assert event.time >= before


def test_explicit_extensions_win_over_defaults():
    event = new_event(
        "stock.changed",
        _stock(),
        source="wms",
        revision="r",
        correlationid="corr-1",
        causationid="cause-1",
        connectionid="conn-x",
        subject="custom",
    )

    assert (event.correlationid, event.causationid, event.connectionid, event.subject) == (
        "corr-1",
        "cause-1",
        "conn-x",
        "custom",
    )


def test_stock_event_without_connection_has_no_connectionid():
    assert new_event("stock.changed", _stock(), source="wms", revision="r").connectionid is None


def test_naive_time_is_rejected_naming_the_field():
    with pytest.raises(ContractError) as caught:
        new_event("stock.changed", _stock(), source="wms", revision="r", time=datetime(2026, 8, 6, 12, 0))

    assert [e["field"] for e in caught.value.errors] == ["time"]


def test_time_keeps_its_offset():
    cest = timezone(timedelta(hours=2))
    event = new_event("stock.changed", _stock(), source="wms", revision="r", time=datetime(2026, 8, 6, 12, tzinfo=cest))

    assert event.time.utcoffset() == timedelta(hours=2)


def test_empty_revision_is_rejected():
    with pytest.raises(ContractError, match="revision"):
        new_event("stock.changed", _stock(), source="wms", revision="")


def test_source_with_whitespace_is_rejected():
    with pytest.raises(ContractError) as caught:
        new_event("stock.changed", _stock(), source="my wms", revision="r")

    assert caught.value.errors[0]["field"] == "source"


def test_payload_of_another_topic_is_a_programming_error():
    with pytest.raises(TypeError, match=r"stock\.changed carries StockChangedV1, not OrderReceivedV1"):
        new_event("stock.changed", _order(), source="wms", revision="r")


def test_unknown_topic_names_the_known_ones():
    with pytest.raises(UnknownTopicError) as caught:
        new_event("order.recieved", _order(), source="orders-ingest", revision="r")

    assert isinstance(caught.value, KeyError)
    assert "unknown topic 'order.recieved'" in str(caught.value)
    assert "order.received" in str(caught.value)


def test_event_is_immutable():
    event = new_event("stock.changed", _stock(), source="wms", revision="r")

    with pytest.raises(ValueError, match="frozen"):
        event.id = "other"  # type: ignore[misc]
