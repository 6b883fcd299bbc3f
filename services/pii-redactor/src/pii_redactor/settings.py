"""Environment of pii-redactor; read once, in main.py, and handed to the composition root.

Secrets have no default: a missing PII_ENCRYPTION_KEYS stops the process naming the variable.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from servicekit import ServiceSettings

from pii_redactor import crypto


class Settings(ServiceSettings):
    # `kid:key,…`, key = urlsafe base64 of 32 random bytes; the first encrypts, all decrypt (rotation).
    pii_encryption_keys: SecretStr
    # `service-name:token,…` for the callers of the label-address endpoint (the warehouse). Unset: it answers 401.
    service_tokens: SecretStr | None = None
    # Orders never completed, cancelled or shipped are redacted this long after purchase (and reported).
    hard_max_days: int = Field(default=90, ge=1, le=365)
    # How often the job looks for due orders; the DPP's 30 days allow no more than hourly.
    redaction_interval_seconds: float = Field(default=600.0, gt=0, le=3600)
    redaction_batch_size: int = Field(default=500, ge=1, le=10_000)
    # An order is listed as "due soon" this long before it is due.
    due_soon_days: int = Field(default=3, ge=0, le=30)
    # Local demos and tests only: POST /admin/test/clock moves this process's clock forward. Off in production.
    test_clock_enabled: bool = False
    consumer_group: str = "pii-redactor"
    # PII-minimal delivery: the label address of an order that came with only a pii_reference is read from Amazon,
    # with access tokens from connector-auth's token API. Unset CONNECTOR_AUTH_URL: such labels answer 404.
    connector_auth_url: str | None = None
    service_token: SecretStr | None = None
    spapi_endpoint_url: str | None = None
    sandbox_speedup: float = Field(default=1.0, gt=0)

    @field_validator("pii_encryption_keys")
    @classmethod
    def _well_formed_keys(cls, value: SecretStr) -> SecretStr:
        crypto.parse_keys(value)
        return value

    @field_validator("service_tokens")
    @classmethod
    def _well_formed_tokens(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_service_tokens(value)
        return value


def parse_service_tokens(spec: SecretStr) -> dict[str, str]:
    """`name:token,…` into token -> service name; errors name positions, never tokens."""
    found: dict[str, str] = {}
    for position, entry in enumerate(filter(None, (e.strip() for e in spec.get_secret_value().split(","))), 1):
        name, sep, token = entry.partition(":")
        if not sep or not name or len(token) < 16:
            raise ValueError(f"SERVICE_TOKENS entry {position} must be name:token with a token of 16+ characters")
        found[token] = name
    return found
