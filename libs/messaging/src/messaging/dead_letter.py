"""Dead letters: an event we cannot apply goes to `dlq.<service>`, unchanged, with headers saying why and whence."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError
from aiokafka.structs import ConsumerRecord
from contracts import dead_letter_topic

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
    value = record.value
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
