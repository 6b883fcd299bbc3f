"""pytest plugin and helpers for tests against real Kafka, PostgreSQL and the SP-API sandbox."""

from testkit.infra import InfrastructureMissing
from testkit.kafka import create_topics, read_topic, unique_name
from testkit.waiting import eventually

__all__ = ["InfrastructureMissing", "create_topics", "eventually", "read_topic", "unique_name"]
