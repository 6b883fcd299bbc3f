"""Deadlines: re-authorization after 365 days, client-secret rotation after 180, warnings 30 days ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connector_auth import deadlines

CONSENT = datetime(2026, 1, 10, tzinfo=UTC)


def codes(now: datetime, rotated: datetime | None = None) -> list[str]:
    return [w.code for w in deadlines.warnings(now, authorized_at=CONSENT, client_secret_rotated_at=rotated)]


def test_reauthorization_warning_starts_thirty_days_before_the_365th_day() -> None:
    deadline = deadlines.reauthorization_deadline(CONSENT)
    assert deadline == CONSENT + timedelta(days=365)
    assert codes(deadline - timedelta(days=30, seconds=1)) == []
    assert codes(deadline - timedelta(days=30)) == ["reauthorization_due"]
    assert codes(deadline + timedelta(days=3)) == ["reauthorization_due"]


def test_client_secret_warning_starts_thirty_days_before_the_180th_day() -> None:
    rotated = datetime(2026, 3, 1, tzinfo=UTC)
    deadline = rotated + timedelta(days=180)
    assert codes(deadline - timedelta(days=31), rotated) == []
    assert codes(deadline - timedelta(days=29), rotated) == ["client_secret_rotation_due"]


def test_no_consent_and_unknown_rotation_give_no_warning() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert deadlines.warnings(now, authorized_at=None, client_secret_rotated_at=None) == []
