"""pytest plugin and helpers for tests against real Kafka, PostgreSQL and the SP-API sandbox."""

from testkit.infra import InfrastructureMissing
from testkit.kafka import create_topics, read_topic, unique_name
from testkit.private import PrivateKafka, PrivatePostgres, free_port, private_kafka, private_postgres
from testkit.waiting import eventually, eventually_sync

__all__ = [
    "InfrastructureMissing",
    "PrivateKafka",
    "PrivatePostgres",
    "create_topics",
    "eventually",
    "eventually_sync",
    "free_port",
    "private_kafka",
    "private_postgres",
    "read_topic",
    "unique_name",
]
