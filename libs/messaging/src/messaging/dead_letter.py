"""Dead letters: an event we cannot apply goes to `dlq.<service>` with headers saying why and whence.

The letter is the record unchanged except for PII: buyer PII must not outlive its source topic's retention and
pii-redactor's redaction, and a dead-letter topic keeps letters for weeks where nothing redacts them. So every
field the contracts mark as PII is emptied (null) wherever it appears in a JSON value, whatever the topic (an
order.received published on another topic still carries it), and a value that cannot be read as JSON is withheld
when its source topic carries PII. The source partition and offset still locate the original while it lives.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError
from aiokafka.structs import ConsumerRecord
from contracts import UnknownTopicError, all_pii_field_names, dead_letter_topic, pii_fields, topic_spec

from messaging.metrics import EVENTS_DEAD_LETTERED
from messaging.settings import namespaced

# Header names other teams' tooling reads; part of the published contract of every dlq.* topic.
REASON = "dlq_reason"
ERROR = "dlq_error"
SOURCE_TOPIC = "dlq_source_topic"
SOURCE_PARTITION = "dlq_source_partition"
SOURCE_OFFSET = "dlq_source_offset"
SERVICE = "dlq_service"
FAILED_AT = "dlq_failed_at"
# Present only when the record did not fit in a dead letter: the original value's size in bytes. The letter
# then carries the value's first bytes (or none, and neither the key nor the source headers if even that is
# too large); the source partition and offset still locate the original.
VALUE_TRUNCATED = "dlq_value_truncated"
# Present when PII was taken out of the value: the dotted paths emptied, comma-separated ("*" when the value could
# not be read and was withheld whole).
PII_REMOVED = "dlq_pii_removed"

# Reasons (the `dlq_reason` header).
INVALID_EVENT = "invalid-event"
"""The record cannot be decoded or validated as an event of its topic (dlq_error says why)."""
REJECTED = "rejected"
"""A handler refused the event with `Rejected` (a business rule)."""

_MAX_ERROR = 2000
_KEPT_PREFIX = 64 * 1024
_TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError)


async def send_to_dead_letter(
    producer: AIOKafkaProducer,
    service: str,
    record: ConsumerRecord[bytes, bytes],
    reason: str,
    error: str,
    *,
    namespace: str = "",
    topic: str | None = None,
) -> None:
    """Returns once the broker has the dead letter, so the source offset may then be committed.

    The letter goes to `dlq.<service>` under `namespace`; `topic` is the record's registry name (for metrics),
    while the source-topic header keeps the name on the wire. A record too large to be dead-lettered whole
    (the added headers tip it over the producer's or the broker's limit) goes with its value cut short.
    """
    why = [
        (REASON, reason.encode()),
        (ERROR, error[:_MAX_ERROR].encode()),
        (SOURCE_TOPIC, record.topic.encode()),
        (SOURCE_PARTITION, str(record.partition).encode()),
        (SOURCE_OFFSET, str(record.offset).encode()),
        (SERVICE, service.encode()),
        (FAILED_AT, datetime.now(UTC).isoformat().encode()),
    ]
    source_headers = [(k, v) for k, v in (record.headers or ()) if not k.startswith("dlq_")]
    value, removed = without_pii(topic, record.value)
    if removed:
        why.append((PII_REMOVED, ",".join(removed).encode()))
    attempts: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = [
        (value, record.key, [*source_headers, *why])
    ]
    if value is not None:
        cut = [(VALUE_TRUNCATED, str(len(value)).encode())]
        if len(value) > _KEPT_PREFIX:
            attempts.append((value[:_KEPT_PREFIX], record.key, [*source_headers, *why, *cut]))
        attempts.append((b"", None, [*why, *cut]))
    destination = namespaced(namespace, dead_letter_topic(service))
    for n, (letter, key, headers) in enumerate(attempts, start=1):
        if letter is None and key is None:
            letter = b""  # Kafka needs a key or a value; a keyless null record has neither
        try:
            await producer.send_and_wait(destination, value=letter, key=key, headers=headers)
        except _TOO_LARGE:
            if n == len(attempts):
                raise
            continue
        break
    EVENTS_DEAD_LETTERED.labels(topic or record.topic, reason).inc()


def without_pii(topic: str | None, value: bytes | None) -> tuple[bytes | None, list[str]]:
    """The value with every PII field emptied, and the paths emptied (["*"]: withheld whole)."""
    if value is None:
        return None, []
    try:
        document = json.loads(value)
    except (ValueError, RecursionError):
        return (b"", ["*"]) if _carries_pii(topic) else (value, [])
    removed: list[str] = []
    try:
        _empty_pii(document, "", all_pii_field_names(), removed)
    except RecursionError:
        return (b"", ["*"]) if _carries_pii(topic) else (value, [])
    if not removed:
        return value, []
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode(), removed


def _carries_pii(topic: str | None) -> bool:
    if topic is None:
        return True  # unknown source: assume the worst
    try:
        return bool(pii_fields(topic_spec(topic).payload))
    except UnknownTopicError:
        return True


def _empty_pii(node: Any, path: str, names: frozenset[str], removed: list[str]) -> None:
    if isinstance(node, dict):
        for key, sub in node.items():
            where = f"{path}.{key}" if path else key
            if key in names and sub is not None:
                node[key] = None
                removed.append(where)
            else:
                _empty_pii(sub, where, names, removed)
    elif isinstance(node, list):
        for sub in node:
            _empty_pii(sub, path, names, removed)
