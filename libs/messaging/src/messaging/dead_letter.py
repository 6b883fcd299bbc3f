"""Dead letters: an event we cannot apply goes to `dlq.<service>`, unchanged, with headers saying why and whence."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
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
_MAX_ERROR = 2000


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
    while the source-topic header keeps the name on the wire.
    """
    headers = [
        *[(k, v) for k, v in (record.headers or ()) if not k.startswith("dlq_")],
        (REASON, reason.encode()),
        (ERROR, error[:_MAX_ERROR].encode()),
        (SOURCE_TOPIC, record.topic.encode()),
        (SOURCE_PARTITION, str(record.partition).encode()),
        (SOURCE_OFFSET, str(record.offset).encode()),
        (SERVICE, service.encode()),
        (FAILED_AT, datetime.now(UTC).isoformat().encode()),
    ]
    await producer.send_and_wait(
        namespaced(namespace, dead_letter_topic(service)), value=record.value, key=record.key, headers=headers
    )
    EVENTS_DEAD_LETTERED.labels(topic or record.topic, reason).inc()
