"""The committed base manifests are what deploy/k8s/tools/render_base.py writes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def load_renderer():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("render_base", ROOT / "deploy" / "k8s" / "tools" / "render_base.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["render_base"] = module
    spec.loader.exec_module(module)
    return module


def test_committed_base_matches_the_renderer() -> None:
    for path, text in load_renderer().render().items():
        assert path.is_file() and path.read_text() == text, (
            f"{path.relative_to(ROOT)} is stale: run `uv run --frozen python deploy/k8s/tools/render_base.py`"
        )


def test_consumers_never_scale_beyond_their_partitions() -> None:
    import yaml
    from contracts.topics import TOPICS

    partitions = {s.name: s.partitions for s in TOPICS}
    for folder in sorted((ROOT / "deploy" / "k8s" / "base").iterdir()):
        autoscaler = folder / "autoscaler.yaml"
        if not autoscaler.is_file():
            continue
        doc = yaml.safe_load(autoscaler.read_text())
        consumed = [s.name for s in TOPICS if folder.name in s.consumers]
        if not consumed:
            assert doc["kind"] == "HorizontalPodAutoscaler", folder.name
            continue
        assert doc["kind"] == "ScaledObject", folder.name
        assert {t["metadata"]["topic"] for t in doc["spec"]["triggers"]} == set(consumed)
        assert {t["metadata"]["consumerGroup"] for t in doc["spec"]["triggers"]} == {folder.name}
        assert doc["spec"]["maxReplicaCount"] <= min(partitions[t] for t in consumed), folder.name


def test_every_service_pod_is_hardened() -> None:
    import yaml

    for service in load_renderer().SERVICES:
        for manifest in ("deployment.yaml", "migration-job.yaml"):
            pod = yaml.safe_load((ROOT / "deploy" / "k8s" / "base" / service.name / manifest).read_text())["spec"][
                "template"
            ]["spec"]
            assert pod["automountServiceAccountToken"] is False
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            (container,) = pod["containers"]
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert container["resources"]["limits"] and container["resources"]["requests"]
            if manifest == "deployment.yaml":
                assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
                assert "startupProbe" in container
                assert pod["terminationGracePeriodSeconds"] >= 30
