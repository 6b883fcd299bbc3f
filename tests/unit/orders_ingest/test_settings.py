"""The environment: secrets have no defaults; the sandbox speed-up is refused against Amazon."""

import pytest
from orders_ingest.settings import Settings
from pydantic import ValidationError

BASE = {
    "DATABASE_URL": "postgresql://x/y",
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
    "CONNECTOR_AUTH_URL": "http://127.0.0.1:18101",
    "SERVICE_TOKEN": "service-token-0123456789",
    "BUYER_REF_KEY": "buyer-ref-key-0123456789",
}


def settings(monkeypatch: pytest.MonkeyPatch, **env: str | None) -> Settings:
    for name, value in {**BASE, **env}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return Settings()  # type: ignore[call-arg]


@pytest.mark.parametrize("missing", ["BUYER_REF_KEY", "SERVICE_TOKEN", "CONNECTOR_AUTH_URL", "DATABASE_URL"])
def test_required_settings_have_no_default(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    with pytest.raises(ValidationError, match=missing.lower()):
        settings(monkeypatch, **{missing: None})


def test_a_short_buyer_ref_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="buyer_ref_key"):
        settings(monkeypatch, BUYER_REF_KEY="short")


def test_the_speedup_needs_a_sandbox_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="SANDBOX_SPEEDUP"):
        settings(monkeypatch, SANDBOX_SPEEDUP="100", SPAPI_ENDPOINT_URL=None)
    assert (
        settings(monkeypatch, SANDBOX_SPEEDUP="100", SPAPI_ENDPOINT_URL="http://127.0.0.1:8700").sandbox_speedup == 100
    )
    assert settings(monkeypatch, SANDBOX_SPEEDUP=None, SPAPI_ENDPOINT_URL=None).consumer_group == "orders-ingest"
