"""Settings every service shares; each service composes them into its own BaseSettings."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator
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

    def admin_principals(self) -> dict[str, Principal]:
        return parse_admin_tokens(self.admin_tokens) if self.admin_tokens else {}

    def postgres(self, schema: str) -> PostgresSettings:
        return PostgresSettings(dsn=self.database_url, schema_name=schema)

    def admin(self) -> AdminSettings:
        return AdminSettings(host=self.admin_host, port=self.admin_port)
