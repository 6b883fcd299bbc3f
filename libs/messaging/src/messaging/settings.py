"""Kafka connection settings, composed into each service's own settings, and the namespace of topic names."""

from __future__ import annotations

from pydantic import BaseModel, Field
from servicekit import ServiceSettings


def namespaced(namespace: str, name: str) -> str:
    """The name on the wire of a registry topic, dead-letter topic or consumer group."""
    return f"{namespace}.{name}" if namespace else name


class KafkaSettings(BaseModel):
    bootstrap_servers: str
    client_id: str = "amazon-connector"
    # Prefixes every topic and consumer group on the wire, so several deployments (or tests) share one
    # cluster without seeing each other's events. Code always speaks registry names; only the wire differs.
    namespace: str = Field(default="", pattern=r"^([A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)?$", max_length=100)

    @classmethod
    def of(cls, settings: ServiceSettings, client_id: str) -> KafkaSettings:
        """A service's Kafka settings from its environment (KAFKA_BOOTSTRAP_SERVERS, KAFKA_NAMESPACE)."""
        return cls(
            bootstrap_servers=settings.kafka_bootstrap_servers, client_id=client_id, namespace=settings.kafka_namespace
        )

    def topic(self, name: str) -> str:
        return namespaced(self.namespace, name)

    def group(self, group_id: str) -> str:
        return namespaced(self.namespace, group_id)
