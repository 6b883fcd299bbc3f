"""Moving events reliably: idempotent producer, consumer loop, transactional outbox, inbox and dead letters."""

from pathlib import Path

from messaging import dead_letter
from messaging.consumer import BatchHandler, Consumer, Handler, Rejected, RetryPolicy
from messaging.dead_letter import send_to_dead_letter
from messaging.inbox import claim
from messaging.outbox import PII_TOPICS, OutboxRelay, add, add_tombstone
from messaging.producer import MAX_REQUEST_BYTES, kafka_producer, kafka_reachable
from messaging.settings import KafkaSettings, namespaced
from messaging.topics import ensure_topics

# Every service applies these (outbox and inbox tables) into its own schema before its own migrations.
MIGRATIONS_DIR = Path(__file__).parent / "migrations"

__all__ = [
    "MAX_REQUEST_BYTES",
    "MIGRATIONS_DIR",
    "PII_TOPICS",
    "BatchHandler",
    "Consumer",
    "Handler",
    "KafkaSettings",
    "OutboxRelay",
    "Rejected",
    "RetryPolicy",
    "add",
    "add_tombstone",
    "claim",
    "dead_letter",
    "ensure_topics",
    "kafka_producer",
    "kafka_reachable",
    "namespaced",
    "send_to_dead_letter",
]
