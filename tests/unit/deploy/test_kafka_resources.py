"""The committed Strimzi resources are what the registry generates, and their ACLs are least-privilege."""

from __future__ import annotations

from pathlib import Path

import yaml
from contracts.cli import main
from contracts.strimzi import kafka_resources
from contracts.topics import DEAD_LETTER_SERVICES, TOPICS, dead_letter_topic, kafka_topics

KAFKA_DIR = Path(__file__).resolve().parents[3] / "deploy" / "k8s" / "base" / "kafka"


def test_committed_resources_match_the_registry() -> None:
    for name, text in kafka_resources("connector", 3, 2).items():
        committed = (KAFKA_DIR / name).read_text()
        assert committed == text, (
            f"deploy/k8s/base/kafka/{name} is stale: run `uv run --frozen python -m contracts kafka-resources "
            "deploy/k8s/base/kafka`"
        )


def test_cli_writes_the_files(tmp_path: Path) -> None:
    assert main(["kafka-resources", str(tmp_path), "--replicas", "1", "--min-insync-replicas", "1"]) == 0
    topics = list(yaml.safe_load_all((tmp_path / "topics.yaml").read_text()))
    assert {t["spec"]["topicName"] for t in topics} == {t.name for t in kafka_topics()}
    assert {t["spec"]["replicas"] for t in topics} == {1}
    assert {t["spec"]["config"]["min.insync.replicas"] for t in topics} == {"1"}


def _users() -> dict[str, dict[str, set[str]]]:
    """user -> operation -> topic names (groups as 'group:<name>')."""
    result: dict[str, dict[str, set[str]]] = {}
    for doc in yaml.safe_load_all((KAFKA_DIR / "users.yaml").read_text()):
        grants = result.setdefault(doc["metadata"]["name"], {})
        for acl in doc["spec"]["authorization"]["acls"]:
            assert acl["type"] == "allow"
            resource = acl["resource"]
            name = resource["name"] if resource["type"] == "topic" else f"{resource['type']}:{resource['name']}"
            for op in acl["operations"]:
                grants.setdefault(op, set()).add(name)
    return result


def test_each_service_writes_only_what_it_produces() -> None:
    users = _users()
    for spec in TOPICS:
        writers = {user for user, grants in users.items() if spec.name in grants.get("Write", set())}
        expected = {"seller-systems"} if spec.producer == "internal" else {spec.producer}
        assert writers == expected, spec.name
    for service in DEAD_LETTER_SERVICES:
        dlq = dead_letter_topic(service)
        assert {u for u, g in users.items() if dlq in g.get("Write", set())} == {service}


def test_each_service_reads_exactly_what_it_consumes_with_its_own_group() -> None:
    users = _users()
    for user, grants in users.items():
        if user in ("seller-systems", "keda"):
            assert "Write" not in grants or user == "seller-systems", user
            continue
        consumed = {s.name for s in TOPICS if user in s.consumers}
        reads = grants.get("Read", set())
        assert {r for r in reads if not r.startswith("group:")} == consumed, user
        assert {r for r in reads if r.startswith("group:")} == ({f"group:{user}"} if consumed else set()), user
        assert not {"All", "Alter", "Delete", "Create"} & grants.keys(), user


def test_the_lag_reader_only_describes() -> None:
    assert set(_users()["keda"]) == {"Describe"}
