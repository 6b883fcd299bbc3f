"""Deadlines Amazon sets: seller re-authorization 365 days after consent, client-secret rotation every 180 days.

Warnings start 30 days ahead; they are carried in `connection.updated` and exported as metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

REAUTHORIZATION_PERIOD = timedelta(days=365)
CLIENT_SECRET_ROTATION_PERIOD = timedelta(days=180)
WARN_AHEAD = timedelta(days=30)

REAUTHORIZATION_DUE = "reauthorization_due"
CLIENT_SECRET_ROTATION_DUE = "client_secret_rotation_due"  # noqa: S105 - a warning code


@dataclass(frozen=True, slots=True)
class Warning:
    code: str
    deadline: datetime


def reauthorization_deadline(authorized_at: datetime | None) -> datetime | None:
    return authorized_at + REAUTHORIZATION_PERIOD if authorized_at else None


def client_secret_deadline(rotated_at: datetime | None) -> datetime | None:
    return rotated_at + CLIENT_SECRET_ROTATION_PERIOD if rotated_at else None


def warnings(
    now: datetime, *, authorized_at: datetime | None, client_secret_rotated_at: datetime | None
) -> list[Warning]:
    """Deadlines within 30 days, or already passed, in a stable order."""
    found = []
    for code, deadline in (
        (REAUTHORIZATION_DUE, reauthorization_deadline(authorized_at)),
        (CLIENT_SECRET_ROTATION_DUE, client_secret_deadline(client_secret_rotated_at)),
    ):
        if deadline is not None and now >= deadline - WARN_AHEAD:
            found.append(Warning(code, deadline))
    return found
