# ruff: noqa: E402 - the import path is fixed (below) before the imports that depend on it
"""Many sellers on one orders-ingest replica: the shared scheduler's idle cost and start delay (`make infra` first).

For 100 and for 10,000 connections, in this one run, one orders-ingest replica (bootstrap.build, every worker,
the sandbox in a process of its own at speed-up 100, real Kafka and PostgreSQL) is measured twice:

1. Idle: no lane is due for the whole window. CPU seconds of this process per second, and PostgreSQL
   transactions per second in the replica's database (pg_stat_database xact_commit + xact_rollback; each of the
   service's statements is its own transaction or part of one) and rows read per second (tup_returned +
   tup_fetched). pg_stat_statements is not available; the stats are flushed by each backend at most every
   second while busy (10 s when idle), so the window is long and the last flush is awaited.
2. Burst: 1,000 connections (all 100 for the small case), each its own sandbox seller, come due at the same
   instant (their schedules say so, as if their previous polls had ended together). Start delay = the run's
   `started_at` minus that instant; p50 and p99, and the time until the last run ended.

`uv run python bench/scheduler.py [--connections 100 10000] [--burst 1000] [--idle 20] [--concurrency N]`:
prints, asserts nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/orders_ingest.py is named like the service's package: this folder goes last on the import path, so
# `orders_ingest` is the package and the other benchmarks' helpers can still be imported.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]

import argparse
import asyncio
import contextlib
import dataclasses
import json
import secrets
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import contracts
import httpx
import servicekit
import spapi
from messaging import ensure_topics
from orders_ingest import bootstrap
from orders_ingest.settings import Settings
from orders_ingest.sync import Tuning
from spapi_throughput import sandbox_process

ROOT = Path(__file__).resolve().parents[1]
KAFKA = "127.0.0.1:19092"
SPEEDUP = 100.0
MARKETPLACE = "ATVPDKIKX0DER"


@dataclass
class Measure:
    connections: int
    due: int
    idle_cpu_per_s: float
    idle_xact_per_s: float
    idle_rows_per_s: float
    p50: float
    p99: float
    drained: float


def postgres_url() -> str:
    return subprocess.run(
        [str(ROOT / "infra/postgres/postgres.sh"), "url"], capture_output=True, text=True, check=True
    ).stdout.strip()


@contextlib.asynccontextmanager
async def scratch_database() -> AsyncIterator[tuple[str, str]]:
    server = postgres_url()
    name = f"bench_sched_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    try:
        await servicekit.migrate_database(url, bootstrap.SCHEMA, bootstrap.MIGRATIONS)
        yield url, name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def sellers_with_tokens(sandbox: httpx.AsyncClient, count: int) -> list[tuple[str, str]]:
    """`count` sandbox sellers and an access token each: every due connection has its own rate-limit buckets."""
    gate = asyncio.Semaphore(16)

    async def one(n: int) -> tuple[str, str]:
        async with gate:
            seller = await sandbox.post(
                "/_sandbox/sellers",
                json={"selling_partner_id": f"A{n:07d}BENCH", "marketplace_ids": [MARKETPLACE]},
            )
            seller.raise_for_status()
            token = await sandbox.post("/auth/o2/token", data={
                "grant_type": "refresh_token", "refresh_token": seller.json()["refresh_token"],
                "client_id": "bench", "client_secret": "bench"})  # fmt: skip
            token.raise_for_status()
            return seller.json()["selling_partner_id"], token.json()["access_token"]

    return list(await asyncio.gather(*(one(n) for n in range(count))))


def settings_json() -> str:
    example = json.loads(json.dumps(contracts.EXAMPLES["connection.updated"][0]))
    example["settings"]["order_poll_interval_minutes"] = 240
    return contracts.ConnectionUpdatedV1.model_validate(example).settings.model_dump_json()


async def seed(url: str, count: int, due: list[str], due_at: datetime) -> None:
    """`count` active connections; those in `due` (own sellers) come due at `due_at`, the rest in an hour."""
    later = datetime.now(UTC) + timedelta(hours=1)
    sellers = dict(zip([f"conn-{n:05d}" for n in range(len(due))], due, strict=True))
    rows = [f"conn-{n:05d}" for n in range(count)]
    conn = await asyncpg.connect(url, server_settings={"search_path": bootstrap.SCHEMA})
    try:
        settings = settings_json()
        await conn.copy_records_to_table(
            "connections",
            records=[(c, 1, "active", "NA", [MARKETPLACE], sellers.get(c, f"AIDLE{c[-5:]}"), settings) for c in rows],
            columns=["connection_id", "revision", "status", "region", "marketplace_ids", "selling_partner_id",
                     "settings"],
        )  # fmt: skip
        when = {c: (due_at if c in sellers else later) for c in rows}
        recent = datetime.now(UTC) - timedelta(minutes=5)
        await conn.copy_records_to_table(
            "schedules",
            records=[(c, recent, when[c], recent, when[c]) for c in rows],
            columns=["connection_id", "watermark", "next_poll_at", "cancel_watermark", "next_cancel_check_at"],
        )
        await conn.copy_records_to_table(
            "sync_lanes", records=[(c, "poll", when[c]) for c in rows], columns=["connection_id", "lane", "due_at"]
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def database_counters(admin: asyncpg.Connection, name: str) -> tuple[int, int]:
    await admin.execute("SELECT pg_stat_clear_snapshot()")
    row = await admin.fetchrow(
        "SELECT xact_commit + xact_rollback AS xacts, tup_returned + tup_fetched AS rows"
        " FROM pg_stat_database WHERE datname = $1",
        name,
    )
    return int(row["xacts"]), int(row["rows"])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def measure(sandbox_url: str, tokens: list[tuple[str, str]], count: int, idle: float, tuning: Tuning) -> Measure:
    namespace = f"bench.{uuid.uuid4().hex[:8]}"
    names = ("connection.updated", "order.received", "order.cancelled", contracts.dead_letter_topic(bootstrap.SERVICE))
    await ensure_topics(KAFKA, [t for t in contracts.kafka_topics() if t.name in names], namespace=namespace)
    due = tokens
    token_of = {f"conn-{n:05d}": token for n, (_, token) in enumerate(due)}
    async with scratch_database() as (url, name):
        warm_up = 5.0
        due_at = datetime.now(UTC) + timedelta(seconds=warm_up + idle + 15)  # after seeding, start and the window
        await seed(url, count, [seller for seller, _ in due], due_at)
        settings = Settings(
            database_url=url, kafka_bootstrap_servers=KAFKA, connector_auth_url="http://127.0.0.1:9",
            service_token="unused-service-token-0000", buyer_ref_key=secrets.token_urlsafe(32),
            spapi_endpoint_url=sandbox_url, sandbox_speedup=SPEEDUP, kafka_namespace=namespace,
        )  # type: ignore[call-arg]  # fmt: skip
        admin = await asyncpg.connect(postgres_url())
        async with bootstrap.build(
            settings, token_sources=lambda c: spapi.StaticTokenSource(token_of[c]), tuning=tuning
        ) as service:
            tasks = [asyncio.create_task(w.run(), name=w.name) for w in service.workers]
            try:
                while not await service.consumer.ready():  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                await asyncio.sleep(warm_up)  # every worker past its first look, backends' stats flushed
                xacts0, rows0 = await database_counters(admin, name)
                cpu0, wall0 = time.process_time(), time.perf_counter()
                await asyncio.sleep(idle)
                cpu1, wall1 = time.process_time(), time.perf_counter()
                await asyncio.sleep(1.5)  # busy backends flush their counters within a second
                xacts1, rows1 = await database_counters(admin, name)
                seconds = wall1 - wall0
                if datetime.now(UTC) >= due_at:
                    raise SystemExit("the idle window ran into the burst; raise the margin")

                admin_db = await asyncpg.connect(url, server_settings={"search_path": bootstrap.SCHEMA})
                try:
                    while await admin_db.fetchval(
                        "SELECT count(*) FROM sync_history_runs WHERE trigger = 'scheduled' AND ended_at IS NOT NULL"
                    ) < len(due):
                        if datetime.now(UTC) > due_at + timedelta(seconds=180):
                            raise SystemExit("the burst did not drain within 3 minutes")
                        await asyncio.sleep(0.2)
                    runs = await admin_db.fetch(
                        "SELECT started_at, ended_at, status, error FROM sync_history_runs WHERE trigger = 'scheduled'"
                    )
                finally:
                    await admin_db.close()
            finally:
                for worker in service.workers:
                    await worker.stop()
                await asyncio.gather(*tasks, return_exceptions=True)
                await admin.close()
    failed = [r["error"] for r in runs if r["status"] != "succeeded"]
    if failed:
        print(f"  ({len(failed)} of {len(runs)} runs failed, e.g. {failed[0]!r})")
    delays = [(r["started_at"] - due_at).total_seconds() for r in runs]
    drained = max((r["ended_at"] - due_at).total_seconds() for r in runs)
    return Measure(
        connections=count,
        due=len(due),
        idle_cpu_per_s=(cpu1 - cpu0) / seconds,
        idle_xact_per_s=(xacts1 - xacts0) / seconds,
        idle_rows_per_s=(rows1 - rows0) / seconds,
        p50=pct(delays, 50),
        p99=pct(delays, 99),
        drained=drained,
    )


async def main(sizes: list[int], burst: int, idle: float, concurrency: int | None) -> None:
    tuning = Tuning(speedup=SPEEDUP)
    if concurrency:
        tuning = dataclasses.replace(tuning, max_concurrent_lanes=concurrency)
    wall = time.perf_counter()
    with sandbox_process(SPEEDUP) as sandbox_url:
        async with httpx.AsyncClient(base_url=sandbox_url, timeout=30) as sandbox:
            tokens = await sellers_with_tokens(sandbox, min(burst, max(sizes)))
        results = []
        for size in sizes:
            results.append(await measure(sandbox_url, tokens[: min(burst, size)], size, idle, tuning))
    small, large = results[0], results[-1]
    print(
        f"orders-ingest scheduler benchmark (one replica, {tuning.max_concurrent_lanes} lanes at a time,"
        f" sandbox speed-up {SPEEDUP:g}, idle window {idle:g} s)"
    )
    print(f"  {'connections':>11} {'due':>5} {'idle CPU s/s':>12} {'idle xact/s':>11} {'idle rows/s':>11}"
          f" {'start p50':>9} {'start p99':>9} {'drained':>8}")  # fmt: skip
    for m in results:
        print(
            f"  {m.connections:>11} {m.due:>5} {m.idle_cpu_per_s:>12.4f} {m.idle_xact_per_s:>11.1f}"
            f" {m.idle_rows_per_s:>11.1f} {m.p50:>8.2f}s {m.p99:>8.2f}s {m.drained:>7.2f}s"
        )

    def ratio(a: float, b: float) -> str:
        return f"x{a / b:.2f}" if b else "n/a"

    print(
        f"  {large.connections} vs {small.connections} connections:"
        f" idle CPU {ratio(large.idle_cpu_per_s, small.idle_cpu_per_s)},"
        f" idle xact/s {ratio(large.idle_xact_per_s, small.idle_xact_per_s)},"
        f" idle rows/s {ratio(large.idle_rows_per_s, small.idle_rows_per_s)}, start p99 {ratio(large.p99, small.p99)}"
    )
    print(
        "  goal: idle cost flat in the number of connections, p99 start delay <= 5 s"
        f" (wall {time.perf_counter() - wall:.0f} s)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, nargs="+", default=[100, 10_000])
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, help="lanes at a time (default: orders-ingest's Tuning)")
    args = parser.parse_args()
    asyncio.run(main(sorted(args.connections), args.burst, args.idle, args.concurrency))
