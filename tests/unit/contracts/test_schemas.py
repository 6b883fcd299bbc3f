"""The committed artifacts under libs/contracts/schemas: in sync with the models, compatible, well-formed."""

import copy
import json
import re

import pytest
from contracts import TOPICS
from contracts.export import (
    ASYNCAPI_FILE,
    compatibility_problems,
    event_schema,
    generated_files,
    schema_filename,
)
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

TOPIC_NAMES = [spec.name for spec in TOPICS]


def test_committed_files_match_the_models(schema_dir):
    stale = [
        name
        for name, text in generated_files().items()
        if not (schema_dir / name).exists() or (schema_dir / name).read_text() != text
    ]

    assert stale == [], "run `make schemas` and commit the result"


def test_no_stray_files_in_the_schema_directory(schema_dir):
    assert sorted(p.name for p in schema_dir.iterdir()) == sorted(generated_files())


@pytest.mark.parametrize("topic", TOPIC_NAMES)
def test_models_are_compatible_with_the_committed_schema(topic, committed):
    spec = next(s for s in TOPICS if s.name == topic)

    assert compatibility_problems(committed[topic], event_schema(spec)) == []


@pytest.mark.parametrize("topic", TOPIC_NAMES)
def test_committed_schema_is_valid_draft_2020_12(topic, committed):
    schema = committed[topic]

    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:amazon-connector:schema:{topic}:v1"
    assert schema["properties"]["type"] == {"const": topic, "description": "The topic name."}
    assert set(schema["required"]) >= {"specversion", "id", "source", "type", "time", "data"}


def test_schema_file_names_carry_the_major_version():
    assert sorted(schema_filename(s) for s in TOPICS) == sorted(f"{s.name}.v1.json" for s in TOPICS)


def test_events_we_consume_reject_unknown_fields_in_the_schema(committed):
    data = committed["stock.changed"]["$defs"]["StockChangedV1"]

    assert data["additionalProperties"] is False


def test_events_we_produce_allow_unknown_fields_in_the_schema(committed):
    data = committed["order.received"]["$defs"]["OrderReceivedV1"]

    assert "additionalProperties" not in data


# The compatibility rule itself, on a small hand-written schema.
BASE = {
    "$defs": {
        "Line": {
            "type": "object",
            "properties": {"sku": {"type": "string", "maxLength": 40}, "qty": {"type": "integer"}},
            "required": ["sku", "qty"],
        }
    },
    "type": "object",
    "properties": {
        "id": {"type": "string", "title": "Id"},
        "status": {"enum": ["a", "b"]},
        "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}},
    },
    "required": ["id", "lines"],
}


def _changed(edit) -> dict:
    schema = copy.deepcopy(BASE)
    edit(schema)
    return schema


def test_unchanged_schema_is_compatible():
    assert compatibility_problems(BASE, copy.deepcopy(BASE)) == []


def test_added_optional_field_and_new_docs_are_compatible():
    def edit(s):
        s["properties"]["note"] = {"type": "string"}
        s["$defs"]["Line"]["properties"]["title"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
        s["properties"]["id"]["description"] = "now documented"

    assert compatibility_problems(BASE, _changed(edit)) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda s: s["properties"].pop("status"), "#.status: removed"),
        (
            lambda s: (s["properties"].update(note={"type": "string"}), s["required"].append("note")),
            "#.note: added as required",
        ),
        (lambda s: s["required"].remove("id"), "#.id: no longer required"),
        (lambda s: s["required"].append("status"), "#.status: became required"),
        (lambda s: s["properties"]["id"].update(type="integer"), "#.id.type: changed"),
        (lambda s: s["properties"]["status"].update(enum=["a", "b", "c"]), "#.status.enum: changed"),
        (lambda s: s["$defs"]["Line"]["properties"]["sku"].update(maxLength=20), "#.lines.items(Line).sku.maxLength"),
        (
            lambda s: (
                s["$defs"]["Line"]["required"].append("title")
                or s["$defs"]["Line"]["properties"].update(title={"type": "string"})
            ),
            "#.lines.items(Line).title: added as required",
        ),
        (lambda s: s.update(additionalProperties=False), "keyword 'additionalProperties' added"),
    ],
    ids=[
        "removed",
        "added-required",
        "made-optional",
        "made-required",
        "type",
        "enum",
        "nested",
        "nested-req",
        "closed",
    ],
)
def test_breaking_changes_are_reported(edit, expected):
    problems = compatibility_problems(BASE, _changed(edit))

    assert any(p.startswith(expected) or expected in p for p in problems), problems


# AsyncAPI
@pytest.fixture(scope="module")
def asyncapi(schema_dir):
    return json.loads((schema_dir / ASYNCAPI_FILE).read_text())


def test_asyncapi_is_version_3_with_a_channel_per_topic(asyncapi):
    assert asyncapi["asyncapi"] == "3.0.0"
    assert sorted(c["address"] for c in asyncapi["channels"].values()) == sorted(TOPIC_NAMES)
    # Ids are identifiers (no dots) so that every AsyncAPI tool accepts them; the address is the topic.
    assert all(re.fullmatch(r"[A-Za-z0-9_\-]+", key) for key in [*asyncapi["channels"], *asyncapi["operations"]])
    for spec in TOPICS:
        channel = asyncapi["channels"][spec.name.replace(".", "_")]
        assert channel["bindings"]["kafka"]["partitions"] == spec.partitions


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolve(document, ref):
    node = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_asyncapi_is_self_contained(asyncapi):
    refs = set(_refs(asyncapi))

    assert refs and all(r.startswith("#/") for r in refs)
    for ref in refs:
        _resolve(asyncapi, ref)  # raises KeyError on a dangling reference


def test_asyncapi_has_one_send_per_topic_and_a_receive_per_consumer(asyncapi):
    def address(operation):
        return _resolve(asyncapi, operation["channel"]["$ref"])["address"]

    operations = asyncapi["operations"].values()
    assert sorted(address(op) for op in operations if op["action"] == "send") == sorted(TOPIC_NAMES)
    receives = sorted(address(op) for op in operations if op["action"] == "receive")
    assert receives == sorted(spec.name for spec in TOPICS for _ in spec.consumers)


def test_asyncapi_examples_validate_against_its_own_message_schemas(asyncapi):
    registry = Registry().with_resource("urn:asyncapi", Resource(contents=asyncapi, specification=DRAFT202012))
    checked = 0
    for name, message in asyncapi["components"]["messages"].items():
        ref = message["payload"]["schema"]["$ref"]
        validator = Draft202012Validator({"$ref": f"urn:asyncapi{ref}"}, registry=registry)
        for example in message["examples"]:
            assert list(validator.iter_errors(example["payload"])) == [], name
            assert example["headers"]["ce_type"] == message["title"]
            checked += 1
    assert checked == sum(len(m["examples"]) for m in asyncapi["components"]["messages"].values()) > len(TOPICS)
