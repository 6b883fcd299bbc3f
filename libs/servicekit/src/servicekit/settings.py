"""Settings every service shares; each service composes them into its own BaseSettings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from servicekit.admin_auth import Principal, parse_admin_tokens


class PostgresSettings(BaseModel):
    """Where the service's schema lives. The DSN has no default: a missing one must stop the process."""

    dsn: SecretStr
    schema_name: str
    min_size: int = 1
    max_size: int = 10


class AdminSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


class ServiceSettings(BaseSettings):
    """Environment every service reads; a service subclasses it with its own fields.

    No `.env` file is loaded implicitly and nothing secret has a default: a missing DATABASE_URL stops the process.
    """

    # hide_input_in_errors: a validation error must never echo a secret it was given.
    model_config = SettingsConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)

    database_url: SecretStr
    kafka_bootstrap_servers: str
    # Prefix of every topic and consumer group on the wire (messaging.KafkaSettings.namespace); empty in production.
    kafka_namespace: str = ""
    # How the brokers are reached: PLAINTEXT locally; SASL_SSL with SCRAM-SHA-512 against Strimzi's TLS listener.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    # The cluster CA (Strimzi's <cluster>-cluster-ca-cert); absent means the system's trust store.
    kafka_ssl_cafile: str | None = None
    admin_host: str = "127.0.0.1"
    admin_port: int = Field(default=8080, ge=0, le=65535)
    log_level: str = "INFO"
    # `name:role:token,…`; absent means every /admin route answers 401.
    admin_tokens: SecretStr | None = None

    @field_validator("admin_tokens")
    @classmethod
    def _well_formed(cls, value: SecretStr | None) -> SecretStr | None:
        # Parsed here so a malformed entry stops the process at start, naming ADMIN_TOKENS.
        if value is not None:
            parse_admin_tokens(value)
        return value

    @model_validator(mode="after")
    def _sasl_has_credentials(self) -> ServiceSettings:
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs KAFKA_SASL_USERNAME and "
                             "KAFKA_SASL_PASSWORD")  # fmt: skip
        return self

    def admin_principals(self) -> dict[str, Principal]:
        return parse_admin_tokens(self.admin_tokens) if self.admin_tokens else {}

    def postgres(self, schema: str) -> PostgresSettings:
        return PostgresSettings(dsn=self.database_url, schema_name=schema)

    def admin(self) -> AdminSettings:
        return AdminSettings(host=self.admin_host, port=self.admin_port)
