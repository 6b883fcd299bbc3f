"""CloudEvents <-> Kafka records (structured mode): the value is the whole event as JSON.

The `ce_*` headers repeat the envelope attributes so brokers, tools and the DLQ can route and filter
without parsing the value; the value stays authoritative and `decode` rejects headers that disagree with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError

from contracts.envelope import CloudEvent, dataschema_uri
from contracts.errors import ContractError, FieldError
from contracts.topics import topic_spec

__all__ = ["CONTENT_TYPE", "HEADER_ATTRIBUTES", "HEADER_PREFIX", "KafkaRecord", "decode", "encode", "tombstone"]

CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"
HEADER_PREFIX = "ce_"
HEADER_ATTRIBUTES = (
    "specversion",
    "id",
    "source",
    "type",
    "time",
    "subject",
    "dataschema",
    "correlationid",
    "causationid",
    "connectionid",
)


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    topic: str
    key: bytes | None
    value: bytes | None
    """None only for a tombstone (see `tombstone`)."""
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def encode(event: CloudEvent[Any]) -> KafkaRecord:
    spec = topic_spec(event.type)
    attributes = event.model_dump(mode="json", exclude={"data"}, exclude_none=True)
    body = {**attributes, "data": event.data.model_dump(mode="json")}
    headers = [("content-type", CONTENT_TYPE.encode())]
    headers += [
        (HEADER_PREFIX + name, str(attributes[name]).encode()) for name in HEADER_ATTRIBUTES if name in attributes
    ]
    return KafkaRecord(
        topic=spec.name,
        key=str(getattr(event.data, spec.key_field)).encode(),
        value=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        headers=headers,
    )


def tombstone(topic: str, key: str) -> KafkaRecord:
    """A null-value record: on a compacted topic it deletes `key` (a disconnected, deleted connection)."""
    spec = topic_spec(topic)
    if spec.cleanup_policy != "compact":
        raise ValueError(f"{topic} is not compacted; a tombstone would delete nothing")
    if not key:
        raise ValueError("a tombstone needs the key it deletes")
    return KafkaRecord(topic=topic, key=key.encode(), value=None, headers=[])


def decode(
    topic: str, value: bytes | None, headers: Sequence[tuple[str, bytes | None]] | None = None
) -> CloudEvent[Any]:
    """Parse and validate a record value as an event of `topic`.

    Raises ContractError for any value that is not a valid event of `topic`, whatever the bytes are (not JSON,
    not UTF-8, nested too deeply, numbers too long, envelope or payload invalid, headers contradicting the
    value), and UnknownTopicError for a topic outside the registry, which is a configuration bug rather than
    poison. Check for tombstones (`value is None`) before calling.
    """
    model, expected_schema = _decoding(topic)
    context = f"{topic}: invalid event"
    if value is None:
        raise ContractError(context, [{"field": "value", "message": "null value (a tombstone) carries no event"}])
    try:
        # Parsing and validating in one pass (pydantic's own JSON parser) is about twice as fast as json.loads
        # and then validating; a value it refuses takes the slow path below, which says precisely why.
        event: CloudEvent[Any] = model.model_validate_json(value)
    except ValidationError:
        event = _slow_decode(model, context, value)

    problems: list[FieldError] = []
    if event.type != topic:
        problems.append({"field": "type", "message": f"{event.type!r} does not belong on topic {topic!r}"})
    if event.dataschema is not None and event.dataschema != expected_schema:
        problems.append({"field": "dataschema", "message": f"{event.dataschema!r}, expected {expected_schema!r}"})
    problems += _header_mismatches(event, headers or [])
    if problems:
        raise ContractError(context, problems)
    return event


@cache
def _event_model(payload: type[BaseModel]) -> type[CloudEvent[Any]]:
    return CloudEvent[payload]  # type: ignore[valid-type]


@cache
def _decoding(topic: str) -> tuple[type[CloudEvent[Any]], str]:
    """The event model and dataschema of `topic`, looked up once: decode runs for every consumed record."""
    spec = topic_spec(topic)
    return _event_model(spec.payload), dataschema_uri(spec)


def _slow_decode(model: type[CloudEvent[Any]], context: str, value: bytes) -> CloudEvent[Any]:
    """Decodes a value the fast path refused, to raise the ContractError that names what is wrong with it."""
    try:
        raw = json.loads(value)
    except RecursionError:
        raise ContractError(context, [{"field": "value", "message": "JSON nested too deeply"}]) from None
    except ValueError as exc:
        # JSONDecodeError, UnicodeDecodeError and the integer-digits limit are all ValueErrors; their text gives
        # a position or a byte, never the value.
        raise ContractError(context, [{"field": "value", "message": f"not valid JSON: {exc}"}]) from None
    if not isinstance(raw, dict):
        raise ContractError(context, [{"field": "value", "message": "must be a JSON object (a CloudEvent)"}])
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ContractError.from_validation_error(context, exc) from None
    except RecursionError:
        raise ContractError(context, [{"field": "value", "message": "nested too deeply"}]) from None


_HEADER_ATTRIBUTE = {HEADER_PREFIX + name: name for name in HEADER_ATTRIBUTES}


def _header_mismatches(event: CloudEvent[Any], headers: Sequence[tuple[str, bytes | None]]) -> list[FieldError]:
    # Runs for every consumed record, so the agreeing case is kept to a lookup and a bytes comparison per header.
    problems: list[FieldError] = []
    attributes = event.__dict__
    for name, raw in headers:
        attribute = _HEADER_ATTRIBUTE.get(name)
        if attribute is None:
            continue
        value = attributes[attribute]
        if attribute == "time":
            # Kafka allows a header without a value; it then contradicts whatever the event says.
            if raw is not None and _same_instant(value, raw):
                continue
        elif raw is not None and value is not None and raw == value.encode():
            # Every header attribute but time is a plain string (or None) on the event.
            continue
        text = (raw or b"").decode("utf-8", errors="replace")
        if attribute != "time" and str(value) == text:
            continue
        problems.append({"field": f"headers.{name}", "message": f"{text!r} contradicts the event's {attribute}"})
    return problems


def _same_instant(time: datetime, raw: bytes) -> bool:
    # Publishers may spell the same instant differently ("Z" or "+00:00", with or without fractions).
    try:
        return datetime.fromisoformat(raw.decode()) == time
    except ValueError:
        return False
