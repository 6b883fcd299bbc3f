"""Examples checked twice: by our decoder and by plain `jsonschema` against the committed schemas."""

import json

import pytest
from contracts import EXAMPLES, INVALID_EXAMPLES, TOPICS, ContractError, decode, encode, example_event

ALL_EXAMPLES = [(spec.name, i) for spec in TOPICS for i in range(len(EXAMPLES[spec.name]))]
INVALID_IDS = [f"{ex.topic}: {ex.description}" for ex in INVALID_EXAMPLES]


def _event_bytes(topic: str, data: dict) -> bytes:
    body = json.loads(encode(example_event(topic)).value)
    body["data"] = data
    return json.dumps(body).encode()


def test_every_topic_has_an_example():
    assert {spec.name for spec in TOPICS} == set(EXAMPLES)
    assert all(EXAMPLES[spec.name] for spec in TOPICS)


def test_every_topic_publishers_write_has_invalid_examples():
    inbound = {spec.name for spec in TOPICS if spec.producer == "internal"}

    assert inbound <= {ex.topic for ex in INVALID_EXAMPLES}


@pytest.mark.parametrize(("topic", "index"), ALL_EXAMPLES, ids=[f"{t}-{i}" for t, i in ALL_EXAMPLES])
def test_example_event_is_valid_against_the_published_schema(topic, index, validators):
    event = json.loads(encode(example_event(topic, index)).value)

    errors = [e.message for e in validators[topic].iter_errors(event)]

    assert errors == []


@pytest.mark.parametrize("example", INVALID_EXAMPLES, ids=INVALID_IDS)
def test_invalid_example_is_rejected_naming_the_field(example):
    with pytest.raises(ContractError) as caught:
        decode(example.topic, _event_bytes(example.topic, example.payload))

    fields = [e["field"] for e in caught.value.errors]
    assert fields == [f"data.{example.field}"], caught.value.errors
    assert all(e["message"] for e in caught.value.errors)


@pytest.mark.parametrize("example", INVALID_EXAMPLES, ids=INVALID_IDS)
def test_invalid_example_against_the_published_schema(example, validators):
    event = json.loads(_event_bytes(example.topic, example.payload))

    rejected = not validators[example.topic].is_valid(event)

    # Where the schema cannot express a rule, this documents the gap: the flag must be flipped if it closes.
    assert rejected == example.schema_rejects
