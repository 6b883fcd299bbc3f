"""The deadline watch rides out a PostgreSQL restart and then publishes the warnings that came due meanwhile."""

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import servicekit
from connector_auth import bootstrap, deadlines
from connector_auth.deadline_watch import DeadlineWatch
from prometheus_client import REGISTRY
from testkit import PrivatePostgres, eventually, private_postgres
from testkit.sandbox import Sandbox

from .harness import Clock, running


@pytest.fixture
def cluster(repo_root: Path) -> Iterator[PrivatePostgres]:
    with private_postgres(repo_root) as pg:
        yield pg


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _in_outage(value: float):
    async def probe() -> bool:
        return _sample("worker_in_outage", {"worker": "deadline-watch"}) == value

    return probe


@pytest.mark.slow
async def test_deadline_watch_survives_a_postgres_restart(
    cluster: PrivatePostgres, kafka_bootstrap: str, sandbox: Sandbox, namespace: str
) -> None:
    url = cluster.url
    await servicekit.migrate_database(url, bootstrap.SCHEMA, bootstrap.MIGRATIONS)
    clock = Clock()
    async with running(
        database_url=url, kafka_bootstrap=kafka_bootstrap, sandbox_url=sandbox.url, namespace=namespace, clock=clock
    ) as svc:
        connection_id = (await svc.connect())["id"]
        watch = DeadlineWatch(svc.deps, interval_seconds=0.2, max_backoff=0.5)
        outages_before = _sample("worker_outages_total", {"worker": "deadline-watch"})
        task = asyncio.create_task(watch.run())
        try:

            async def measured() -> bool:
                labels = {"connection_id": connection_id}
                return _sample("connector_auth_reauthorization_deadline_timestamp_seconds", labels) > 0

            await eventually(measured, timeout=10)
            await asyncio.to_thread(cluster.stop)
            await eventually(_in_outage(1), timeout=20)
            await asyncio.to_thread(cluster.start)
            await eventually(_in_outage(0), timeout=30)
            # A warning that came due after the restart reaches the topic through the watch's own ticks.
            clock.advance(timedelta(days=335, minutes=1))
            records = await svc.events(connection_id, at_least=3)
            warnings = [w["code"] for w in json.loads(records[-1].value)["data"]["warnings"]]
            assert warnings == [deadlines.REAUTHORIZATION_DUE]
            assert not task.done()
        finally:
            await watch.stop()
            await asyncio.wait_for(task, timeout=10)
    assert _sample("worker_outages_total", {"worker": "deadline-watch"}) == outages_before + 1
