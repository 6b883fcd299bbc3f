import asyncio
import logging
import uuid

import asyncpg
import pytest
from aiokafka.errors import (
    IllegalArgumentError,
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    NotLeaderForPartitionError,
    RecordTooLargeError,
)
from asyncpg.exceptions import _base as asyncpg_base
from prometheus_client import REGISTRY
from pydantic import BaseModel, ValidationError
from servicekit import PeriodicWorker, is_outage
from testkit import eventually

OUTAGES = [
    ConnectionRefusedError(111, "Connect call failed"),
    ConnectionResetError(),
    OSError("Network is unreachable"),
    TimeoutError(),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.InterfaceError("connection is closed"),
    KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]"),
    KafkaTimeoutError(),
    NodeNotReadyError(),
    NotLeaderForPartitionError(),
    ExceptionGroup("two lanes", [ConnectionRefusedError(), asyncpg.AdminShutdownError("")]),
]


class _Shape(BaseModel):
    n: int


def _validation_error() -> ValidationError:
    try:
        _Shape.model_validate({"n": "x"})
    except ValidationError as exc:
        return exc
    raise AssertionError("unreachable")


BUGS = [
    ValueError("bad"),
    KeyError("k"),
    AttributeError("a"),
    asyncpg.UniqueViolationError("duplicate key value violates unique constraint"),
    asyncpg.UndefinedColumnError("column x does not exist"),
    asyncpg_base.DataError("invalid input for query argument $1"),
    RecordTooLargeError(),
    IllegalArgumentError(),
    _validation_error(),
    ExceptionGroup("mixed", [ConnectionRefusedError(), ValueError("bad")]),
]


@pytest.mark.parametrize("exc", OUTAGES, ids=lambda e: type(e).__name__)
def test_outages_of_postgres_and_kafka_are_recognised(exc: BaseException) -> None:
    assert is_outage(exc)


@pytest.mark.parametrize("exc", BUGS, ids=lambda e: type(e).__name__)
def test_everything_else_is_a_bug(exc: BaseException) -> None:
    assert not is_outage(exc)


def _name() -> str:
    return f"w-{uuid.uuid4().hex[:8]}"


def _sample(metric: str, name: str) -> float | None:
    return REGISTRY.get_sample_value(metric, {"worker": name})


class FlakyTick:
    """Fails with `errors` in turn, then succeeds; counts attempts."""

    def __init__(self, *errors: BaseException, then: float | None = None) -> None:
        self.errors = list(errors)
        self.attempts = 0
        self.successes = 0
        self.then = then

    async def __call__(self) -> float | None:
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        self.successes += 1
        return self.then


async def _run_until(worker: PeriodicWorker, condition) -> None:
    task = asyncio.create_task(worker.run())
    try:
        await eventually(condition, timeout=5, interval=0.005)
    finally:
        await worker.stop()
        await asyncio.wait_for(task, timeout=5)


async def test_ticks_repeat_every_interval_until_stopped() -> None:
    tick = FlakyTick()
    worker = PeriodicWorker(_name(), tick, every=0.001)

    async def three() -> bool:
        return tick.successes >= 3

    await _run_until(worker, three)
    assert _sample("worker_last_success_timestamp_seconds", worker.name)


@pytest.mark.parametrize("exc", OUTAGES, ids=lambda e: type(e).__name__)
async def test_an_outage_is_ridden_out_logged_once_and_counted_once(
    exc: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    tick = FlakyTick(exc, exc, exc, exc)
    worker = PeriodicWorker(_name(), tick, every=3600, max_backoff=0.005)
    in_outage: list[float | None] = []

    async def recovered() -> bool:
        in_outage.append(_sample("worker_in_outage", worker.name))
        return tick.successes == 1

    with caplog.at_level(logging.INFO, logger="servicekit.outages"):
        await _run_until(worker, recovered)
    assert tick.attempts == 5
    assert _sample("worker_outages_total", worker.name) == 1
    assert 1 in in_outage and _sample("worker_in_outage", worker.name) == 0
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if worker.name in r.getMessage()]
    assert [level for level, _ in lines] == ["WARNING", "INFO"], lines
    assert type(exc).__name__ in lines[0][1] and "4 failed attempts" in lines[1][1]


async def test_a_second_outage_is_counted_again() -> None:
    down = ConnectionRefusedError()
    tick = FlakyTick(down, down)
    worker = PeriodicWorker(_name(), tick, every=3600, max_backoff=0.005)
    task = asyncio.create_task(worker.run())
    await eventually(_succeeded(tick), timeout=5, interval=0.005)
    tick.errors = [down]
    worker.wake()
    await eventually(_succeeded(tick, 2), timeout=5, interval=0.005)
    await worker.stop()
    await task
    assert _sample("worker_outages_total", worker.name) == 2


@pytest.mark.parametrize("exc", BUGS, ids=lambda e: type(e).__name__)
async def test_a_bug_leaves_run_so_the_process_ends(exc: BaseException) -> None:
    tick = FlakyTick(exc)
    worker = PeriodicWorker(_name(), tick, every=0.001, max_backoff=0.005)
    with pytest.raises(type(exc)):
        await asyncio.wait_for(worker.run(), timeout=5)
    assert tick.attempts == 1
    assert _sample("worker_outages_total", worker.name) is None


async def test_a_bug_after_an_outage_still_ends_run() -> None:
    tick = FlakyTick(ConnectionRefusedError(), KeyError("oops"))
    worker = PeriodicWorker(_name(), tick, every=0.001, max_backoff=0.005)
    with pytest.raises(KeyError):
        await asyncio.wait_for(worker.run(), timeout=5)
    assert tick.attempts == 2


async def test_stop_interrupts_the_wait_between_ticks() -> None:
    tick = FlakyTick()
    worker = PeriodicWorker(_name(), tick, every=3600)
    task = asyncio.create_task(worker.run())
    await eventually(_ran(tick), timeout=5, interval=0.005)
    await worker.stop()
    await asyncio.wait_for(task, timeout=2)
    assert tick.attempts == 1


async def test_stop_lets_the_current_tick_finish() -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    finished: list[bool] = []

    async def slow_tick() -> None:
        entered.set()
        await release.wait()
        finished.append(True)

    worker = PeriodicWorker(_name(), slow_tick, every=0)
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(entered.wait(), timeout=5)
    await worker.stop()
    assert not task.done()
    release.set()
    await asyncio.wait_for(task, timeout=2)
    assert finished == [True]


async def test_stop_during_an_outage_returns_without_waiting_out_the_backoff() -> None:
    tick = FlakyTick(*([ConnectionRefusedError()] * 100))
    worker = PeriodicWorker(_name(), tick, every=1, max_backoff=3600)
    task = asyncio.create_task(worker.run())
    await eventually(_ran(tick), timeout=5, interval=0.005)
    await worker.stop()
    await asyncio.wait_for(task, timeout=2)


async def test_the_tick_chooses_the_next_delay_and_wake_runs_it_now() -> None:
    tick = FlakyTick(then=3600)
    worker = PeriodicWorker(_name(), tick, every=0.001)
    task = asyncio.create_task(worker.run())
    await eventually(_ran(tick), timeout=5, interval=0.005)
    for _ in range(20):
        await asyncio.sleep(0)
    assert tick.attempts == 1  # the tick asked for an hour, not `every`
    worker.wake()
    await eventually(_ran(tick, 2), timeout=5, interval=0.005)
    await worker.stop()
    await asyncio.wait_for(task, timeout=2)


async def test_first_delay_postpones_the_first_tick_and_wake_cuts_it_short() -> None:
    tick = FlakyTick()
    worker = PeriodicWorker(_name(), tick, every=3600, first_delay=3600)
    task = asyncio.create_task(worker.run())
    for _ in range(20):
        await asyncio.sleep(0)
    assert tick.attempts == 0
    worker.wake()
    await eventually(_ran(tick), timeout=5, interval=0.005)
    await worker.stop()
    await asyncio.wait_for(task, timeout=2)


async def test_wakes_do_not_cut_the_backoff_short() -> None:
    tick = FlakyTick(*([ConnectionRefusedError()] * 100))
    # The first backoff is at least 0.25 s; a hundred wakes in a few milliseconds must not cause a retry.
    worker = PeriodicWorker(_name(), tick, every=0, max_backoff=30)
    task = asyncio.create_task(worker.run())
    await eventually(_ran(tick), timeout=5, interval=0.005)
    for _ in range(100):
        worker.wake()
        await asyncio.sleep(0)
    assert tick.attempts == 1
    await worker.stop()
    await asyncio.wait_for(task, timeout=2)


def test_backoff_doubles_with_jitter_up_to_the_ceiling() -> None:
    worker = PeriodicWorker(_name(), FlakyTick(), every=1, max_backoff=8)
    firsts = [worker._backoff(1) for _ in range(200)]
    assert all(0.25 <= b <= 0.5 for b in firsts) and len(set(firsts)) > 1
    assert all(1.0 <= worker._backoff(3) <= 2.0 for _ in range(50))
    assert all(4.0 <= worker._backoff(1000) <= 8.0 for _ in range(50))


def test_nonsense_intervals_are_refused() -> None:
    with pytest.raises(ValueError):
        PeriodicWorker("w", FlakyTick(), every=-1)
    with pytest.raises(ValueError):
        PeriodicWorker("w", FlakyTick(), every=1, max_backoff=0)


def _ran(tick: FlakyTick, times: int = 1):
    async def probe() -> bool:
        return tick.attempts >= times

    return probe


def _succeeded(tick: FlakyTick, times: int = 1):
    async def probe() -> bool:
        return tick.successes >= times

    return probe
