"""Each Deployment provides every setting its service requires, and secrets only ever come from Secrets.

Settings classes are read at test time, so a new required field in a service fails here until the manifests
(deploy/k8s/tools/render_base.py) provide it.
"""

from __future__ import annotations

import importlib
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from pydantic.fields import FieldInfo

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").is_file())


def _settings_fields(service: str) -> dict[str, FieldInfo]:
    module = importlib.import_module(f"{service.replace('-', '_')}.settings")
    return dict(module.Settings.model_fields)


def _is_secret(info: FieldInfo) -> bool:
    annotation = info.annotation
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def _containers(service: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for manifest in ("deployment.yaml", "migration-job.yaml"):
        doc = yaml.safe_load((K8S / "base" / service / manifest).read_text())
        (container,) = doc["spec"]["template"]["spec"]["containers"]
        found.append((manifest, container))
    return found


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def _config_keys() -> set[str]:
    return set(yaml.safe_load((K8S / "base" / "config.yaml").read_text())["data"])


@pytest.mark.parametrize("service", SERVICES)
def test_every_required_setting_is_provided(service: str) -> None:
    fields = _settings_fields(service)
    assert "database_url" in fields, f"{service}: Settings does not extend ServiceSettings"
    for manifest, container in _containers(service):
        env = _env(container)
        for name, info in fields.items():
            if not info.is_required():
                continue
            variable = (info.alias or name).upper()
            assert variable in env, f"{service}/{manifest}: required {variable} is not in the container's env"
            entry = env[variable]
            source = entry.get("valueFrom", {})
            ref = source.get("secretKeyRef") or source.get("configMapKeyRef")
            assert "value" in entry or (ref and not ref.get("optional")), (
                f"{service}/{manifest}: required {variable} comes from an optional reference"
            )
            if "configMapKeyRef" in source:
                assert source["configMapKeyRef"]["key"] in _config_keys(), (
                    f"{service}/{manifest}: {variable} is not in base/config.yaml"
                )


@pytest.mark.parametrize("service", SERVICES)
def test_secrets_come_only_from_secrets(service: str) -> None:
    fields = {(info.alias or name).upper(): info for name, info in _settings_fields(service).items()}
    for manifest, container in _containers(service):
        for variable, entry in _env(container).items():
            info = fields.get(variable)
            if info is not None and _is_secret(info):
                assert "secretKeyRef" in entry.get("valueFrom", {}), (
                    f"{service}/{manifest}: secret {variable} must come from a Secret, not a ConfigMap or a literal"
                )
                # The Kafka password is the one Strimzi's User Operator writes for the KafkaUser of that name.
                expected = service if variable == "KAFKA_SASL_PASSWORD" else f"{service}-env"
                assert entry["valueFrom"]["secretKeyRef"]["name"] == expected
        assert "envFrom" not in container, f"{service}/{manifest}: envFrom hides what the pod reads"


def test_no_secret_setting_is_in_a_config_map() -> None:
    secret_names = {
        (info.alias or name).upper()
        for service in SERVICES
        for name, info in _settings_fields(service).items()
        if _is_secret(info)
    }
    assert not secret_names & _config_keys()
    for overlay in ("local", "production"):
        kustomization = yaml.safe_load((K8S / "overlays" / overlay / "kustomization.yaml").read_text())
        for generator in kustomization.get("configMapGenerator", []):
            keys = {literal.split("=", 1)[0] for literal in generator.get("literals", [])}
            assert not secret_names & keys, overlay


def test_production_materialises_every_referenced_secret() -> None:
    referenced = {
        entry["valueFrom"]["secretKeyRef"]["name"]
        for service in SERVICES
        for _, container in _containers(service)
        for entry in container.get("env", [])
        if "secretKeyRef" in entry.get("valueFrom", {})
    }
    strimzi_users = set(SERVICES)  # created by the User Operator from base/kafka/users.yaml, not by us
    referenced -= strimzi_users
    external = {
        doc["spec"]["target"]["name"]
        for doc in yaml.safe_load_all((K8S / "overlays" / "production" / "external-secrets.yaml").read_text())
    }
    assert referenced <= external
