"""A worker that notices deadlines approaching: it updates the metrics and publishes changed warnings.

A warning appears 30 days before a deadline purely because time passed, so something has to look: this
worker does, hourly (and once at start), and publishes `connection.updated` only when a warning set changed.
"""

from __future__ import annotations

import logging

import servicekit
from prometheus_client import Gauge

from connector_auth import connections, deadlines
from connector_auth.deps import Deps

log = logging.getLogger(__name__)

REAUTHORIZATION_DEADLINE = Gauge(
    "connector_auth_reauthorization_deadline_timestamp_seconds",
    "When the seller must re-authorize (365 days after consent), per connection",
    ["connection_id"],
)
CLIENT_SECRET_DEADLINE = Gauge(
    "connector_auth_client_secret_rotation_deadline_timestamp_seconds",
    "When the LWA client secret must be rotated (180 days after CLIENT_SECRET_ROTATED_AT); 0 when unknown",
)
WARNINGS = Gauge(
    "connector_auth_deadline_warnings",
    "Live connections with a deadline within 30 days (or passed), by warning code",
    ["code"],
)


async def measure(deps: Deps) -> None:
    secret_deadline = deadlines.client_secret_deadline(deps.client_secret_rotated_at)
    CLIENT_SECRET_DEADLINE.set(secret_deadline.timestamp() if secret_deadline else 0)
    counts = {deadlines.REAUTHORIZATION_DUE: 0, deadlines.CLIENT_SECRET_ROTATION_DUE: 0}
    REAUTHORIZATION_DEADLINE.clear()
    for c in await connections.list_all(deps):
        if c.status == "disconnected":
            continue
        deadline = deadlines.reauthorization_deadline(c.authorized_at)
        if deadline is not None:
            REAUTHORIZATION_DEADLINE.labels(c.id).set(deadline.timestamp())
        for warning in connections.current_warnings(deps, c):
            counts[warning.code] += 1
    for code, count in counts.items():
        WARNINGS.labels(code).set(count)


class DeadlineWatch:
    """Hourly (and once at start); a PostgreSQL or Kafka outage is ridden out by servicekit's PeriodicWorker."""

    name = "deadline-watch"

    def __init__(self, deps: Deps, *, interval_seconds: float = 3600.0, max_backoff: float = 30.0) -> None:
        self._deps = deps
        self._worker = servicekit.PeriodicWorker(self.name, self._tick, every=interval_seconds, max_backoff=max_backoff)

    async def check(self) -> int:
        published = await connections.publish_changed_warnings(self._deps)
        await measure(self._deps)
        if published:
            log.info("deadline warnings changed", extra={"connections": published})
        return published

    async def _tick(self) -> None:
        await self.check()

    async def run(self) -> None:
        if self._deps.client_secret_rotated_at is None:
            log.warning("CLIENT_SECRET_ROTATED_AT is not set: the 180-day client-secret rotation is not tracked")
        await self._worker.run()

    async def stop(self) -> None:
        await self._worker.stop()
