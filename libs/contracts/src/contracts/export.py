"""Published artifacts: one JSON Schema (draft 2020-12) per event type and one AsyncAPI 3.0 document.

Also the compatibility rule between a committed schema and the current model: within a major version only
optional fields may be added. `write_schemas` refuses to overwrite a committed schema that breaks it.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from contracts.codec import CONTENT_TYPE, HEADER_ATTRIBUTES, HEADER_PREFIX, encode
from contracts.envelope import EVENT_ID_NAMESPACE, CloudEvent, dataschema_uri
from contracts.examples import EXAMPLES, example_event
from contracts.topics import INTERNAL_PRODUCER, TOPICS, TopicSpec, kafka_topic_configs

__all__ = [
    "ASYNCAPI_FILE",
    "IncompatibleSchemaError",
    "asyncapi_document",
    "compatibility_problems",
    "event_schema",
    "render",
    "schema_filename",
    "write_schemas",
]

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_FILE = "asyncapi.json"
# Keywords that document rather than constrain. x-pii is here because classifying a field is a policy
# change reviewed through the schema diff, not a wire incompatibility.
_DOC_KEYS = frozenset({"title", "description", "examples", "default", "$comment", "x-pii"})


class IncompatibleSchemaError(Exception):
    def __init__(self, problems: dict[str, list[str]]) -> None:
        self.problems = problems
        lines = [f"{name}: {p}" for name, ps in problems.items() for p in ps]
        super().__init__(
            "breaking change within a major version; add a V2 payload on a new topic instead:\n  " + "\n  ".join(lines)
        )


def schema_filename(spec: TopicSpec) -> str:
    return f"{spec.name}.v{spec.major_version}.json"


def event_schema(spec: TopicSpec) -> dict[str, Any]:
    """JSON Schema of the whole structured-mode event of a topic: the envelope with `data` as its payload."""
    schema: dict[str, Any] = CloudEvent[spec.payload].model_json_schema()  # type: ignore[name-defined]
    properties = schema["properties"]
    properties["type"] = {"const": spec.name, "description": "The topic name."}
    properties["dataschema"] = {"const": dataschema_uri(spec), "description": "This schema's $id."}
    return {
        "$schema": DRAFT_2020_12,
        "$id": dataschema_uri(spec),
        "title": f"{spec.name} ({spec.payload.__name__})",
        "description": f"{spec.description} Kafka key: `{spec.key_field}`. Producer: {spec.producer}.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
        "examples": [_example_value(spec, i) for i in range(len(EXAMPLES[spec.name]))],
    }


def _example_value(spec: TopicSpec, index: int) -> Any:
    record = encode(example_event(spec.name, index))
    assert record.value is not None
    return json.loads(record.value)


def asyncapi_document() -> dict[str, Any]:
    """One AsyncAPI 3.0 document for all topics, self-contained (schemas inlined under components)."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for spec in TOPICS:
        message_name = spec.payload.__name__
        event_name = f"{message_name}Event"
        schemas.update(_hoist(event_schema(spec), event_name, schemas))
        messages[message_name] = {
            "name": message_name,
            "title": spec.name,
            "summary": spec.description,
            "contentType": CONTENT_TYPE.split(";")[0],
            "headers": _headers_schema(),
            "payload": {
                "schemaFormat": "application/schema+json;version=draft-2020-12",
                "schema": {"$ref": f"#/components/schemas/{event_name}"},
            },
            "correlationId": {"location": "$message.payload#/correlationid"},
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "description": f"The payload's `{spec.key_field}`."},
                    "bindingVersion": "0.5.0",
                }
            },
            "examples": [
                {
                    "name": f"{spec.name}-{i}",
                    "headers": {k: v.decode() for k, v in encode(example_event(spec.name, i)).headers},
                    "payload": _example_value(spec, i),
                }
                for i in range(len(EXAMPLES[spec.name]))
            ],
        }
        channel_id = spec.name.replace(".", "_")
        channels[channel_id] = {
            "address": spec.name,
            "description": spec.description,
            "messages": {message_name: {"$ref": f"#/components/messages/{message_name}"}},
            "bindings": {
                "kafka": {
                    "topic": spec.name,
                    "partitions": spec.partitions,
                    "topicConfiguration": _binding_configuration(spec),
                    "bindingVersion": "0.5.0",
                }
            },
            "x-pii": spec.pii,
        }
        producer = "internal systems" if spec.producer == INTERNAL_PRODUCER else spec.producer
        operations[f"publish_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{producer} publishes {spec.name}.",
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{message_name}"}],
        }
        for consumer in spec.consumers:
            who = "internal" if consumer == INTERNAL_PRODUCER else consumer
            operations[f"consume_{channel_id}_{who.replace('-', '_')}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"{'Internal systems consume' if who == 'internal' else who + ' consumes'} {spec.name}.",
                "messages": [{"$ref": f"#/channels/{channel_id}/messages/{message_name}"}],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Amazon Marketplace connector events",
            "version": "1.0.0",
            "description": (
                "Every Kafka value is a CloudEvents 1.0 event in structured JSON mode; `type` is the topic "
                "name, `dataschema` names the payload's major version. Event ids are "
                f"uuid5({EVENT_ID_NAMESPACE}, '<type>:<business key>:<revision>'). Fields marked "
                "`x-pii: true` are personal data. Consumers of a topic dead-letter what they cannot decode "
                "to `dlq.<service>`."
            ),
        },
        "defaultContentType": CONTENT_TYPE.split(";")[0],
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def _binding_configuration(spec: TopicSpec) -> dict[str, Any]:
    configs = kafka_topic_configs(spec)
    result: dict[str, Any] = {
        "cleanup.policy": configs["cleanup.policy"].split(","),
        "retention.ms": int(configs["retention.ms"]),
    }
    if "delete.retention.ms" in configs:
        result["delete.retention.ms"] = int(configs["delete.retention.ms"])
    return result


def _headers_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {
        HEADER_PREFIX + n: {"type": "string", "description": f"Copy of `{n}`."} for n in HEADER_ATTRIBUTES
    }
    properties["content-type"] = {"const": CONTENT_TYPE}
    return {"type": "object", "properties": properties}


def _hoist(schema: dict[str, Any], name: str, existing: dict[str, Any]) -> dict[str, Any]:
    """Move a schema and its $defs under components.schemas, rewriting refs; shared defs must agree."""
    body = copy.deepcopy(schema)
    defs = body.pop("$defs", {})
    for key in ("$schema", "$id", "examples"):
        body.pop(key, None)
    out = {name: body, **defs}
    for def_name, definition in defs.items():
        if def_name in existing and existing[def_name] != _rewrite(definition):
            raise ValueError(f"two events define {def_name} differently; rename one of the models")
    return {k: _rewrite(v) for k, v in out.items()}


def _rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (v.replace("#/$defs/", "#/components/schemas/") if k == "$ref" and isinstance(v, str) else _rewrite(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    if isinstance(node, str) and node.startswith("#/$defs/"):
        return node.replace("#/$defs/", "#/components/schemas/")
    return node


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def generated_files() -> dict[str, str]:
    files = {schema_filename(spec): render(event_schema(spec)) for spec in TOPICS}
    files[ASYNCAPI_FILE] = render(asyncapi_document())
    return files


def write_schemas(directory: Path, *, allow_breaking: bool = False) -> list[Path]:
    """Regenerate the artifacts in `directory`; returns the files whose content changed."""
    directory.mkdir(parents=True, exist_ok=True)
    if not allow_breaking:
        problems = {}
        for spec in TOPICS:
            committed = directory / schema_filename(spec)
            if committed.exists():
                found = compatibility_problems(json.loads(committed.read_text()), event_schema(spec))
                if found:
                    problems[committed.name] = found
        if problems:
            raise IncompatibleSchemaError(problems)
    changed = []
    for name, text in generated_files().items():
        path = directory / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed


def compatibility_problems(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What in `new` would break a reader or writer of `old`. Only added optional properties are allowed.

    Everything but documentation keywords must stay identical: a narrowed enum breaks publishers, a widened
    one breaks consumers, so neither is "compatible" for a topic with both kinds of users.
    """
    problems: list[str] = []
    _compare(old, new, "#", problems, old.get("$defs", {}), new.get("$defs", {}), set())
    return problems


def _compare(
    old: Any,
    new: Any,
    where: str,
    problems: list[str],
    old_defs: dict[str, Any],
    new_defs: dict[str, Any],
    seen: set[str],
) -> None:
    if not (isinstance(old, dict) and isinstance(new, dict)):
        if _strip(old) != _strip(new):
            problems.append(f"{where}: changed from {json.dumps(old)} to {json.dumps(new)}")
        return
    old_ref, new_ref = old.get("$ref"), new.get("$ref")
    if isinstance(old_ref, str) and isinstance(new_ref, str):
        old_name, new_name = old_ref.rsplit("/", 1)[-1], new_ref.rsplit("/", 1)[-1]
        if old_name in seen:
            return
        _compare(
            old_defs.get(old_name),
            new_defs.get(new_name),
            f"{where}({old_name})",
            problems,
            old_defs,
            new_defs,
            seen | {old_name},
        )
        return
    if "properties" in old or "properties" in new:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
        for name in old_props:
            if name not in new_props:
                problems.append(f"{where}.{name}: removed")
            else:
                _compare(old_props[name], new_props[name], f"{where}.{name}", problems, old_defs, new_defs, seen)
        for name in new_props.keys() - old_props.keys():
            if name in new_req:
                problems.append(f"{where}.{name}: added as required (only optional fields may be added)")
        for name in sorted((old_req - new_req) & new_props.keys()):
            problems.append(f"{where}.{name}: no longer required (consumers rely on it)")
        for name in sorted((new_req - old_req) & old_props.keys()):
            problems.append(f"{where}.{name}: became required (publishers may omit it)")
    for key in (old.keys() | new.keys()) - _DOC_KEYS - {"properties", "required", "$defs"}:
        if key not in old or key not in new:
            problems.append(f"{where}: keyword {key!r} {'added' if key in new else 'removed'}")
            continue
        if isinstance(old[key], list) and isinstance(new[key], list) and len(old[key]) == len(new[key]):
            for i, (o, n) in enumerate(zip(old[key], new[key], strict=True)):
                _compare(o, n, f"{where}.{key}[{i}]", problems, old_defs, new_defs, seen)
        elif isinstance(old[key], dict) and isinstance(new[key], dict):
            _compare(old[key], new[key], f"{where}.{key}", problems, old_defs, new_defs, seen)
        elif old[key] != new[key]:
            problems.append(f"{where}.{key}: changed from {json.dumps(old[key])} to {json.dumps(new[key])}")


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in _DOC_KEYS}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node
