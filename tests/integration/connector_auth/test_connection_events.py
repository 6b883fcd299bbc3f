"""`connection.updated` on real Kafka: every change, never a secret, a tombstone after disconnect."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from connector_auth import deadlines
from contracts import decode
from prometheus_client import REGISTRY
from testkit.sandbox import Sandbox

from .harness import Clock, Running, auto_approved, running


async def test_every_change_is_published_without_secrets_and_disconnect_ends_in_a_tombstone(
    svc: Running, sandbox: Sandbox
) -> None:
    connection_id = (await svc.connect())["id"]
    async with svc.as_service() as service:
        access_token = (await service.post(f"/internal/connections/{connection_id}/access-token")).json()[
            "access_token"
        ]
    async with svc.admin("operator") as operator, svc.admin() as admin:
        await operator.patch(
            f"/admin/connections/{connection_id}/settings",
            json={"handling_time_days": 4, "stock_cadence": {"mode": "interval", "every_minutes": 10}},
        )
        await operator.post(f"/admin/connections/{connection_id}/disable")
        await admin.post(f"/admin/connections/{connection_id}/disconnect")

    records = await svc.events(connection_id, at_least=6)
    assert len(records) == 6
    *events, tombstone = records
    assert tombstone.value is None and tombstone.key == connection_id.encode()
    decoded = [decode("connection.updated", r.value, list(r.headers)) for r in events]
    assert [e.data.status for e in decoded] == ["pending", "active", "active", "disabled", "disconnected"]
    assert [e.data.revision for e in decoded] == [1, 2, 3, 4, 5]
    assert len({e.id for e in decoded}) == 5
    assert decoded[1].data.selling_partner_id == sandbox.seller_id
    assert decoded[2].data.settings.handling_time_days == 4
    assert decoded[2].data.settings.stock_cadence.mode == "interval"

    published = b"".join(r.value for r in events) + b"".join(v for r in events for _, v in r.headers)
    for secret in (
        sandbox.refresh_token,
        access_token,
        svc.secrets["LWA_CLIENT_SECRET"],
        svc.secrets["STATE_SIGNING_KEY"],
        svc.secrets["TOKEN_ENCRYPTION_KEYS"].split(":", 1)[1],
    ):
        assert secret.encode() not in published
    for forbidden in (b"Atzr|", b"Atza|", b"refresh_token", b"access_token"):
        assert forbidden not in published


async def test_unchanged_settings_publish_nothing(svc: Running) -> None:
    connection_id = (await svc.create())["connection"]["id"]
    async with svc.admin("operator") as operator:
        same = await operator.patch(f"/admin/connections/{connection_id}/settings", json={"handling_time_days": 2})
        await operator.patch(f"/admin/connections/{connection_id}/settings", json={"handling_time_days": 5})
    assert same.json()["revision"] == 1
    records = await svc.events(connection_id, at_least=2)
    assert [json.loads(r.value)["data"]["revision"] for r in records] == [1, 2]


async def test_reauthorization_warning_appears_30_days_ahead_in_the_event_and_metrics(svc: Running) -> None:
    connection_id = (await svc.connect())["id"]
    watch = svc.service.deadline_watch
    svc.clock.advance(timedelta(days=334))
    assert await watch.check() == 0
    svc.clock.advance(timedelta(days=1, minutes=1))
    assert await watch.check() == 1
    assert await watch.check() == 0  # published once, not on every look

    records = await svc.events(connection_id, at_least=3)
    latest = decode("connection.updated", records[-1].value, list(records[-1].headers)).data
    assert [w.code for w in latest.warnings] == [deadlines.REAUTHORIZATION_DUE]
    assert latest.warnings[0].deadline == latest.reauthorization_deadline
    assert REGISTRY.get_sample_value("connector_auth_deadline_warnings", {"code": "reauthorization_due"}) == 1
    deadline = REGISTRY.get_sample_value(
        "connector_auth_reauthorization_deadline_timestamp_seconds", {"connection_id": connection_id}
    )
    assert deadline == latest.reauthorization_deadline.timestamp()

    # Re-authorizing resets the clock and clears the warning.
    async with svc.admin() as admin:
        consent = (await admin.post(f"/admin/connections/{connection_id}/authorize")).json()["consent_url"]
    async with svc.browser() as browser:
        assert (await browser.get(auto_approved(consent))).status_code == 200
    records = await svc.events(connection_id, at_least=4)
    renewed = decode("connection.updated", records[-1].value, list(records[-1].headers)).data
    assert renewed.warnings == []
    assert renewed.reauthorization_deadline > latest.reauthorization_deadline


async def test_client_secret_rotation_warning_is_in_every_connections_event(
    database_url: str, kafka_bootstrap: str, sandbox: Sandbox, namespace: str
) -> None:
    rotated = datetime.now(UTC) - timedelta(days=155)
    async with running(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        sandbox_url=sandbox.url,
        namespace=namespace,
        clock=Clock(),
        CLIENT_SECRET_ROTATED_AT=rotated.isoformat(),
    ) as svc:
        connection_id = (await svc.create())["connection"]["id"]
        async with svc.admin("viewer") as viewer:
            overview = (await viewer.get("/admin/deadlines")).json()
        records = await svc.events(connection_id, at_least=1)
        await svc.service.deadline_watch.check()
    event = decode("connection.updated", records[0].value, list(records[0].headers)).data
    assert [(w.code, w.deadline) for w in event.warnings] == [
        (deadlines.CLIENT_SECRET_ROTATION_DUE, rotated + timedelta(days=180))
    ]
    assert datetime.fromisoformat(overview["client_secret_rotation_deadline"]) == rotated + timedelta(days=180)
    assert (
        REGISTRY.get_sample_value("connector_auth_client_secret_rotation_deadline_timestamp_seconds")
        == (rotated + timedelta(days=180)).timestamp()
    )
