"""The process's environment: secrets are required and named when missing, never echoed when wrong."""

from __future__ import annotations

import pytest
from connector_auth.crypto import generate_key
from connector_auth.settings import Settings
from pydantic import ValidationError

COMPLETE = {
    "DATABASE_URL": "postgresql://u:p@localhost/db",
    "KAFKA_BOOTSTRAP_SERVERS": "localhost:9092",
    "SERVICE_TOKENS": "orders-ingest:0123456789abcdef0123",
    "TOKEN_ENCRYPTION_KEYS": f"k1:{generate_key()}",
    "STATE_SIGNING_KEY": "s" * 32,
    "LWA_CLIENT_ID": "amzn1.application-oa2-client.x",
    "LWA_CLIENT_SECRET": "c" * 32,
    "SPAPI_APPLICATION_ID": "amzn1.sp.solution.x",
    "PUBLIC_BASE_URL": "https://connector.example.com/",
}


def names(error: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]).upper() for e in error.errors()}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in COMPLETE.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_a_complete_environment_loads_with_amazons_defaults(env: pytest.MonkeyPatch) -> None:
    settings = Settings()  # type: ignore[call-arg]
    assert settings.lwa_token_url == "https://api.amazon.com/auth/o2/token"
    assert settings.public_base_url == "https://connector.example.com"
    assert settings.seller_central_url is None and settings.client_secret_rotated_at is None


@pytest.mark.parametrize(
    "missing",
    [
        "SERVICE_TOKENS",
        "TOKEN_ENCRYPTION_KEYS",
        "STATE_SIGNING_KEY",
        "LWA_CLIENT_ID",
        "LWA_CLIENT_SECRET",
        "SPAPI_APPLICATION_ID",
        "PUBLIC_BASE_URL",
    ],
)
def test_every_secret_and_required_value_is_named_when_missing(env: pytest.MonkeyPatch, missing: str) -> None:
    env.delenv(missing)
    with pytest.raises(ValidationError) as refused:
        Settings()  # type: ignore[call-arg]
    assert names(refused.value) == {missing}


def test_malformed_secrets_are_named_without_their_values(env: pytest.MonkeyPatch) -> None:
    env.setenv("TOKEN_ENCRYPTION_KEYS", "k1:dG9vLXNob3J0LXNlY3JldA")
    env.setenv("SERVICE_TOKENS", "orders-ingest:short")
    env.setenv("CLIENT_SECRET_ROTATED_AT", "2026-01-01T00:00:00")  # no offset
    with pytest.raises(ValidationError) as refused:
        Settings()  # type: ignore[call-arg]
    assert names(refused.value) == {"TOKEN_ENCRYPTION_KEYS", "SERVICE_TOKENS", "CLIENT_SECRET_ROTATED_AT"}
    messages = " ".join(e["msg"] for e in refused.value.errors())
    assert "dG9vLXNob3J0LXNlY3JldA" not in messages and "orders-ingest:short" not in messages
