import asyncio
import os
import signal
import sys
from pathlib import Path

from testkit import eventually

from .conftest import stock_event
from .test_consumer import _committed, _effects, _send

ROOT = Path(__file__).resolve().parents[3]


async def _start(database_url, kafka, service, mode) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.messaging.consumer_process",
        database_url,
        kafka.bootstrap_servers,
        kafka.namespace,
        service,
        mode,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def test_sigterm_finishes_the_batch_commits_and_exits_zero(
    pool, producer, kafka, topic, service, database_url
) -> None:
    for n in range(300):
        await _send(producer, topic, stock_event(n))
    process = await _start(database_url, kafka, service, "ok")

    async def some_applied() -> bool:
        return len(await _effects(pool)) >= 60

    await eventually(some_applied, timeout=60)
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, output.decode()
    applied = len(await _effects(pool))
    assert 60 <= applied < 300, "stopped mid-stream rather than draining the whole topic"
    assert await _committed(kafka, service, topic) == applied, "every applied event is committed, no more"
    assert b"stopped cleanly" in output


async def test_a_crashed_consumer_task_makes_the_process_exit_non_zero(
    producer, kafka, topic, service, database_url
) -> None:
    await _send(producer, topic, stock_event(1))
    process = await _start(database_url, kafka, service, "crash")
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1, output.decode()
    assert await _committed(kafka, service, topic) == 0
