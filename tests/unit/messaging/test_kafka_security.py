"""Kafka security from the environment: plaintext locally, TLS and SCRAM against Strimzi's TLS listener."""

import ssl

import pytest
from messaging import KafkaSettings
from pydantic import ValidationError
from servicekit import ServiceSettings

BASE = {"DATABASE_URL": "postgresql://x@127.0.0.1/x", "KAFKA_BOOTSTRAP_SERVERS": "kafka:9093"}


def _settings(monkeypatch, **env: str) -> ServiceSettings:
    for name, value in {**BASE, **env}.items():
        monkeypatch.setenv(name, value)
    return ServiceSettings()  # type: ignore[call-arg]


def test_plaintext_by_default_with_no_tls_or_login(monkeypatch):
    options = KafkaSettings.of(_settings(monkeypatch), "svc").connection_options()

    assert options == {"bootstrap_servers": "kafka:9093", "security_protocol": "PLAINTEXT"}


def test_sasl_ssl_carries_the_scram_login_and_a_tls_context(monkeypatch):
    settings = _settings(
        monkeypatch,
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_SASL_USERNAME="stock-publisher",
        KAFKA_SASL_PASSWORD="s3cret-from-the-kafkauser-secret",
    )
    kafka = KafkaSettings.of(settings, "stock-publisher")
    options = kafka.connection_options()

    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "stock-publisher"
    assert options["sasl_plain_password"] == "s3cret-from-the-kafkauser-secret"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert "s3cret" not in repr(kafka) and "s3cret" not in repr(settings)


def test_sasl_without_credentials_stops_the_process_naming_what_is_missing(monkeypatch):
    with pytest.raises(ValidationError, match="KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"):
        _settings(monkeypatch, KAFKA_SECURITY_PROTOCOL="SASL_SSL")


def test_an_unknown_protocol_is_refused(monkeypatch):
    with pytest.raises(ValidationError):
        _settings(monkeypatch, KAFKA_SECURITY_PROTOCOL="SASL_TLS")
