import json
import random

import pytest
from contracts import (
    CONTENT_TYPE,
    EXAMPLES,
    TOPICS,
    ContractError,
    KafkaRecord,
    decode,
    encode,
    example_event,
    tombstone,
)

ALL_EXAMPLES = [(spec.name, i) for spec in TOPICS for i in range(len(EXAMPLES[spec.name]))]


@pytest.mark.parametrize(("topic", "index"), ALL_EXAMPLES, ids=[f"{t}-{i}" for t, i in ALL_EXAMPLES])
def test_every_example_round_trips(topic, index):
    event = example_event(topic, index)

    record = encode(event)
    decoded = decode(record.topic, record.value, record.headers)

    assert decoded == event
    assert decoded.data.model_dump(mode="json") == event.data.model_dump(mode="json")
    assert encode(decoded) == record


def test_record_key_is_the_topics_key_field():
    assert encode(example_event("order.received")).key == b"113-8871264-0934622"
    assert encode(example_event("stock.changed")).key == b"TENT-2P-GRN"
    assert encode(example_event("connection.updated")).key == b"conn-us-acme"


def test_value_is_a_structured_cloudevent_with_data():
    record = encode(example_event("stock.changed"))

    body = json.loads(record.value)
    assert body["specversion"] == "1.0"
    assert body["type"] == "stock.changed"
    assert body["data"] == {
        "sku": "TENT-2P-GRN",
        "warehouse_id": "WH-RENO",
        "available": 37,
        "as_of": "2026-08-06T13:59:12.481000Z",
    }
    assert "causationid" not in body  # absent optional attributes are omitted, not null


def test_money_travels_as_strings():
    body = json.loads(encode(example_event("order.received")).value)

    assert body["data"]["lines"][0]["item_price"] == {"amount": "259.98", "currency": "USD"}


def test_headers_copy_the_attributes():
    event = example_event("order.received")
    headers = dict(encode(event).headers)

    assert headers["content-type"] == CONTENT_TYPE.encode()
    assert headers["ce_id"] == event.id.encode()
    assert headers["ce_type"] == b"order.received"
    assert headers["ce_source"] == b"orders-ingest"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_time"] == b"2026-08-06T15:04:05Z"
    assert headers["ce_connectionid"] == b"conn-us-acme"
    assert "ce_causationid" not in headers


def test_same_event_encodes_to_the_same_bytes():
    assert encode(example_event("order.received")).value == encode(example_event("order.received")).value


def test_malformed_json_is_a_contract_error():
    with pytest.raises(ContractError, match="not valid JSON") as caught:
        decode("stock.changed", b'{"specversion": "1.0",')

    assert isinstance(caught.value, ValueError)
    assert caught.value.errors[0]["field"] == "value"


def test_invalid_utf8_is_a_contract_error():
    with pytest.raises(ContractError, match="not valid JSON"):
        decode("stock.changed", b"\xff\xfe")


def test_json_that_is_not_an_object_is_rejected():
    with pytest.raises(ContractError, match="must be a JSON object"):
        decode("stock.changed", b"[1, 2]")


@pytest.mark.parametrize("value", [b"[" * 200_000, b'{"a":' * 100_000, b"[" * 5_000 + b"]" * 5_000])
def test_deeply_nested_json_is_a_contract_error_not_a_recursion_error(value):
    with pytest.raises(ContractError, match=r"nested too deeply|must be a JSON object"):
        decode("connection.updated", value)


def test_deep_nesting_inside_a_valid_envelope_is_a_contract_error():
    body = json.loads(encode(example_event("stock.changed")).value)
    deep: object = "x"
    for _ in range(900):
        deep = [deep]
    body["data"]["sku"] = deep
    with pytest.raises(ContractError, match="sku"):
        decode("stock.changed", json.dumps(body).encode())


def test_a_number_too_long_to_convert_is_a_contract_error():
    with pytest.raises(ContractError, match="not valid JSON"):
        decode("stock.changed", b'{"specversion": ' + b"1" * 5_000 + b"}")


def test_a_header_without_a_value_is_a_contract_error():
    record = encode(example_event("stock.changed"))
    with pytest.raises(ContractError, match="ce_id"):
        decode("stock.changed", record.value, [("ce_id", None)])  # type: ignore[list-item]


def test_mangled_bytes_only_ever_raise_contract_errors():
    """Truncations and byte flips of a valid value: whatever decode meets, it answers ContractError or an event."""
    rng = random.Random(9)
    valid = encode(example_event("order.received")).value
    assert valid is not None
    for _ in range(2_000):
        mangled = bytearray(valid[: rng.randrange(len(valid) + 1)])
        for _ in range(rng.randrange(4)):
            if mangled:
                mangled[rng.randrange(len(mangled))] = rng.randrange(256)
        try:
            decode("order.received", bytes(mangled))
        except ContractError:
            pass


def _body(topic: str, **changes: object) -> dict:
    body = json.loads(encode(example_event(topic)).value)
    body.update(changes)
    return body


def test_event_of_another_type_on_the_topic_is_rejected():
    value = json.dumps(_body("stock.changed", type="stock.published")).encode()

    with pytest.raises(ContractError) as caught:
        decode("stock.changed", value)

    assert caught.value.errors[0]["field"] == "type"


def test_payload_errors_are_prefixed_with_data():
    body = _body("stock.changed")
    body["data"]["available"] = -1

    with pytest.raises(ContractError) as caught:
        decode("stock.changed", json.dumps(body).encode())

    assert caught.value.errors == [{"field": "data.available", "message": "Input should be greater than or equal to 0"}]
    assert "data.available" in str(caught.value)


def test_several_failures_are_all_reported():
    body = _body("stock.changed")
    body["data"]["available"] = -1
    body["data"]["sku"] = ""

    with pytest.raises(ContractError) as caught:
        decode("stock.changed", json.dumps(body).encode())

    assert {e["field"] for e in caught.value.errors} == {"data.available", "data.sku"}


def test_missing_required_attribute_is_named():
    body = _body("stock.changed")
    del body["source"]

    with pytest.raises(ContractError) as caught:
        decode("stock.changed", json.dumps(body).encode())

    assert caught.value.errors == [{"field": "source", "message": "required field is missing"}]


def test_unknown_specversion_is_rejected():
    with pytest.raises(ContractError, match="specversion"):
        decode("stock.changed", json.dumps(_body("stock.changed", specversion="0.3")).encode())


def test_dataschema_of_another_version_is_rejected():
    value = json.dumps(_body("stock.changed", dataschema="urn:amazon-connector:schema:stock.changed:v2")).encode()

    with pytest.raises(ContractError, match="dataschema"):
        decode("stock.changed", value)


def test_dataschema_may_be_omitted_by_publishers():
    body = _body("stock.changed")
    del body["dataschema"]

    assert decode("stock.changed", json.dumps(body).encode()).dataschema is None


def test_unknown_cloudevents_extensions_are_tolerated():
    value = json.dumps(_body("stock.changed", traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))

    assert decode("stock.changed", value.encode()).type == "stock.changed"


def test_header_contradicting_the_value_is_rejected():
    record = encode(example_event("stock.changed"))
    headers = [(k, b"other-id" if k == "ce_id" else v) for k, v in record.headers]

    with pytest.raises(ContractError) as caught:
        decode(record.topic, record.value, headers)

    assert caught.value.errors[0]["field"] == "headers.ce_id"


def test_header_time_in_another_spelling_of_the_same_instant_is_accepted():
    record = encode(example_event("stock.changed"))
    headers = [(k, b"2026-08-06T17:04:05+02:00" if k == "ce_time" else v) for k, v in record.headers]

    assert decode(record.topic, record.value, headers).id == example_event("stock.changed").id


def test_unrelated_headers_are_ignored():
    record = encode(example_event("stock.changed"))

    decode(record.topic, record.value, [*record.headers, ("traceparent", b"x"), ("ce_unknownext", b"y")])


def test_tombstone_deletes_a_connection_on_the_compacted_topic():
    record = tombstone("connection.updated", "conn-us-acme")

    assert record == KafkaRecord(topic="connection.updated", key=b"conn-us-acme", value=None, headers=[])


def test_tombstone_on_a_delete_topic_is_refused():
    with pytest.raises(ValueError, match="not compacted"):
        tombstone("order.received", "113-8871264-0934622")


def test_decoding_a_tombstone_is_a_contract_error():
    with pytest.raises(ContractError, match="tombstone"):
        decode("connection.updated", None)  # type: ignore[arg-type]


def test_record_is_frozen():
    record = encode(example_event("stock.changed"))

    with pytest.raises(AttributeError):
        record.topic = "x"  # type: ignore[misc]
