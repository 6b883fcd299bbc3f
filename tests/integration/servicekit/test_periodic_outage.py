"""A PeriodicWorker rides out a PostgreSQL restart: it backs off, logs the outage once and carries on afterwards."""

import asyncio
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr
from servicekit import PeriodicWorker, PostgresSettings, postgres_pool
from testkit import PrivatePostgres, eventually, private_postgres


@pytest.fixture
def cluster(repo_root: Path) -> Iterator[PrivatePostgres]:
    with private_postgres(repo_root) as pg:
        yield pg


@pytest.mark.slow
async def test_a_worker_rides_out_a_postgres_restart(
    cluster: PrivatePostgres, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"pg-probe-{uuid.uuid4().hex[:6]}"
    outcomes: list[str] = []
    # A tick holds its query open while the server shuts down, so the outage starts mid-query as in production.
    hold = {"seconds": 0.0}
    in_query = asyncio.Event()
    settings = PostgresSettings(dsn=SecretStr(cluster.url), schema_name="public", min_size=2, max_size=2)
    async with postgres_pool(settings) as pool:

        async def tick() -> None:
            try:
                async with pool.acquire(timeout=2) as conn:
                    in_query.set()
                    await conn.execute("SELECT pg_sleep($1)", hold["seconds"], timeout=60)
            except BaseException as exc:
                outcomes.append(type(exc).__name__)
                raise
            outcomes.append("ok")

        worker = PeriodicWorker(name, tick, every=0.05, max_backoff=0.5)
        with caplog.at_level(logging.INFO, logger="servicekit.outages"):
            task = asyncio.create_task(worker.run())
            try:
                await eventually(_seen(outcomes, "ok"), timeout=10)
                hold["seconds"] = 60
                in_query.clear()
                await asyncio.wait_for(in_query.wait(), timeout=10)
                await asyncio.to_thread(cluster.stop)
                hold["seconds"] = 0
                await eventually(_in_outage(name, 1), timeout=20)
                await eventually(_failures_at_least(outcomes, 3), timeout=20)
                await asyncio.to_thread(cluster.start)
                await eventually(_in_outage(name, 0), timeout=30)
                await eventually(_oks_after(outcomes, len(outcomes), 3), timeout=10)
                assert not task.done()
            finally:
                await worker.stop()
                await asyncio.wait_for(task, timeout=10)
    failures = [o for o in outcomes if o != "ok"]
    # The query cut off by the shutdown, then the refused connections while the server is away.
    assert failures[0] in {"AdminShutdownError", "ConnectionDoesNotExistError"}, outcomes
    assert "ConnectionRefusedError" in failures, outcomes
    assert REGISTRY.get_sample_value("worker_outages_total", {"worker": name}) == 1
    lines = [r.levelname for r in caplog.records if name in r.getMessage()]
    assert lines == ["WARNING", "INFO"], [r.getMessage() for r in caplog.records]


def _oks_after(outcomes: list[str], start: int, n: int):
    async def probe() -> bool:
        return outcomes[start:].count("ok") >= n

    return probe


def _seen(outcomes: list[str], what: str):
    async def probe() -> bool:
        return what in outcomes

    return probe


def _failures_at_least(outcomes: list[str], n: int):
    async def probe() -> bool:
        return sum(o != "ok" for o in outcomes) >= n

    return probe


def _in_outage(name: str, value: float):
    async def probe() -> bool:
        return REGISTRY.get_sample_value("worker_in_outage", {"worker": name}) == value

    return probe
