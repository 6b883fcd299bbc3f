"""Kafka connection settings, composed into each service's own settings, and the namespace of topic names."""

from __future__ import annotations

import ssl
from typing import Any, Literal

from aiokafka.helpers import create_ssl_context
from pydantic import BaseModel, Field, SecretStr
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
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None

    @classmethod
    def of(cls, settings: ServiceSettings, client_id: str) -> KafkaSettings:
        """A service's Kafka settings from its environment (KAFKA_BOOTSTRAP_SERVERS, KAFKA_NAMESPACE)."""
        return cls(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id=client_id,
            namespace=settings.kafka_namespace,
            security_protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_username=settings.kafka_sasl_username,
            sasl_password=settings.kafka_sasl_password,
            ssl_cafile=settings.kafka_ssl_cafile,
        )

    def connection_options(self) -> dict[str, Any]:
        """What every aiokafka client (producer, consumer, admin) needs to reach and log in to the brokers."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            context: ssl.SSLContext = create_ssl_context(cafile=self.ssl_cafile)
            options["ssl_context"] = context
        if self.security_protocol.startswith("SASL_"):
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password.get_secret_value() if self.sasl_password else None
        return options

    def topic(self, name: str) -> str:
        return namespaced(self.namespace, name)

    def group(self, group_id: str) -> str:
        return namespaced(self.namespace, group_id)
