"""Every alert links a runbook that exists, and the issue's alerts are all there."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "deploy" / "k8s" / "base" / "monitoring" / "alerts.yaml"
REQUIRED = {
    "ConsumerLagHigh",
    "DeadLettersGrowing",
    "RedactionsOverdue",
    "RefreshTokenReauthorizationDue",
    "ClientSecretRotationDue",
    "FeedFailures",
    "ShipmentUnconfirmedNearHour",
    "OutboxStale",
}


def _alerts() -> list[dict]:  # type: ignore[type-arg]
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["spec"]["groups"] for rule in group["rules"] if "alert" in rule]


def test_the_required_alerts_exist() -> None:
    assert REQUIRED <= {rule["alert"] for rule in _alerts()}


def test_each_alert_links_its_runbook() -> None:
    for rule in _alerts():
        url = rule["annotations"]["runbook_url"]
        path = url.split("/blob/main/", 1)[1]
        assert path == f"docs/runbooks/{rule['alert']}.md", url
        runbook = ROOT / path
        assert runbook.is_file(), f"{rule['alert']}: {path} is missing"
        assert runbook.read_text().startswith(f"# {rule['alert']}\n")
