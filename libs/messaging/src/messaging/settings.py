"""Kafka connection settings, composed into each service's own settings."""

from __future__ import annotations

from pydantic import BaseModel


class KafkaSettings(BaseModel):
    bootstrap_servers: str
    client_id: str = "amazon-connector"
