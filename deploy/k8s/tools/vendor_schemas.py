"""Regenerates deploy/k8s/schemas/, the JSON Schemas kubeconform validates the rendered manifests against offline.

Two sources, both data, not code:
- Kubernetes: the strict schemas bundled in the PyPI package kubernetes-validate (pinned in check.sh), for the
  kinds we render, with their shared `_definitions.json`; references are made relative so kubeconform resolves
  them from the vendored directory.
- Operators: the upstream CustomResourceDefinition YAML of Strimzi, CloudNativePG, KEDA, the Prometheus operator
  and External Secrets (Apache-2.0 each), converted to one JSON Schema per kind and version. Objects without
  `additionalProperties` and without `x-kubernetes-preserve-unknown-fields` get `additionalProperties: false`,
  so a misspelt field fails as it would with `kubectl apply --validate=strict`.

    uv run --frozen python deploy/k8s/tools/vendor_schemas.py --kubernetes-dir <kubernetes-validate>/... \
        --crd <crd.yaml> [--crd ...]
SOURCES.md (written next to the schemas) records where each file came from.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
KUBERNETES_KINDS = (
    "configmap-v1",
    "deployment-apps-v1",
    "horizontalpodautoscaler-autoscaling-v2",
    "ingress-networking-v1",
    "job-batch-v1",
    "namespace-v1",
    "networkpolicy-networking-v1",
    "poddisruptionbudget-policy-v1",
    "secret-v1",
    "service-v1",
    "serviceaccount-v1",
)
CRD_KINDS = {
    "Kafka",
    "KafkaNodePool",
    "KafkaTopic",
    "KafkaUser",
    "Cluster",
    "Database",
    "ScaledObject",
    "TriggerAuthentication",
    "ServiceMonitor",
    "PrometheusRule",
    "ExternalSecret",
}


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def vendor_kubernetes(source: Path, target: Path) -> list[str]:
    """Each kind standalone: the definitions it reaches, inlined as $defs (kubeconform's file loader does not
    follow references into another file)."""
    target.mkdir(parents=True, exist_ok=True)
    definitions = json.loads((source / "_definitions.json").read_text())["$defs"]
    written = []
    for name in KUBERNETES_KINDS:
        text = (source / f"{name}.json").read_text().replace('"/api/_definitions.json#', '"#')
        schema = json.loads(text)
        wanted, todo = set(), _refs(schema)
        while todo:
            ref = todo.pop()
            if ref not in wanted:
                wanted.add(ref)
                todo |= _refs(definitions[ref])
        schema["$defs"] = {ref: definitions[ref] for ref in sorted(wanted)}
        (target / f"{name}.json").write_text(json.dumps(schema, separators=(",", ":"), sort_keys=True) + "\n")
        written.append(f"{name}.json")
    return written


def _strict(node: Any) -> Any:
    if isinstance(node, dict):
        result = {k: _strict(v) for k, v in node.items()}
        if (
            "properties" in result
            and "additionalProperties" not in result
            and not result.get("x-kubernetes-preserve-unknown-fields")
        ):
            result["additionalProperties"] = False
        return result
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def convert_crd(crd: dict[str, Any], target: Path) -> list[str]:
    spec = crd["spec"]
    kind = spec["names"]["kind"]
    if kind not in CRD_KINDS:
        return []
    group = spec["group"]
    written = []
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        schema = _strict(version["schema"]["openAPIV3Schema"])
        schema["$schema"] = "http://json-schema.org/draft-07/schema#"
        # kubeconform validates metadata itself only loosely; the CRD schema leaves it open as the API server does.
        schema.setdefault("properties", {})["metadata"] = {"type": "object"}
        folder = target / group
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{kind.lower()}_{version['name']}.json"
        (folder / name).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
        written.append(f"{group}/{name}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubernetes-dir", type=Path, required=True)
    parser.add_argument("--crd", type=Path, action="append", default=[])
    parser.add_argument("--crd-source", action="append", default=[], help="'file=repo@commit' for SOURCES.md")
    args = parser.parse_args(argv)
    shutil.rmtree(SCHEMAS / "kubernetes", ignore_errors=True)
    shutil.rmtree(SCHEMAS / "crds", ignore_errors=True)
    lines = ["# Vendored schemas (generated by deploy/k8s/tools/vendor_schemas.py; do not edit)", ""]
    kube = vendor_kubernetes(args.kubernetes_dir, SCHEMAS / "kubernetes")
    version = re.search(r"v\d+\.\d+\.\d+", str(args.kubernetes_dir))
    tag = version.group(0) if version else "?"
    lines.append(f"- kubernetes/: {len(kube)} files from PyPI kubernetes-validate, {tag}-local-strict (Apache-2.0)")
    sources = dict(s.split("=", 1) for s in args.crd_source)
    for path in args.crd:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                for name in convert_crd(doc, SCHEMAS / "crds"):
                    lines.append(f"- crds/{name}: {sources.get(path.name, path.name)} (Apache-2.0)")
    (SCHEMAS / "SOURCES.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
