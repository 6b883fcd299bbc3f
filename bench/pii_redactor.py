# ruff: noqa: E402 - the import path is fixed (below) before the imports that depend on it
"""Redactions per second of pii-redactor's job over a backlog of due orders, beside a plain PostgreSQL UPDATE.

Seeds N due orders (ciphertext-sized random bytes, as sealed rows are) in a scratch database with the service's
migrations, then runs the real RedactionJob in R replicas at once (SKIP LOCKED batches, order.redacted through
the outbox in the same transaction). The same rows are then restored and redacted again by one plain UPDATE
(no outbox, no batches): the floor the job is measured against, in the same run.
Goal: 1,000,000 due orders in under 10 minutes. Usage: python bench/pii_redactor.py [--orders N] [--replicas R]
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the service's package: keep its folder off the import path so `pii_redactor` is the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import contextlib
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import servicekit
from pii_redactor import bootstrap
from pii_redactor.redaction import RedactionJob

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 10, 1, tzinfo=UTC)
GOAL_ORDERS, GOAL_SECONDS = 1_000_000, 600


def postgres_url() -> str:
    return subprocess.run(
        [str(ROOT / "infra/postgres/postgres.sh"), "url"], capture_output=True, text=True, check=True
    ).stdout.strip()


@contextlib.asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    server = postgres_url()
    name = f"bench_pii_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    try:
        await servicekit.migrate_database(url, bootstrap.SCHEMA, bootstrap.MIGRATIONS)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


_SEED = """
INSERT INTO vault (connection_id, amazon_order_id, marketplace_id, status, purchase_date, key_id, nonce, sealed,
                   pii_fields, completed_at, clock_started_at, clock_source, redact_at, redact_basis)
SELECT 'conn-' || (n % 50), lpad((n / 10000000)::text, 3, '0') || '-' || lpad(n::text, 7, '0') || '-0000001',
       'ATVPDKIKX0DER', 'Shipped', $1::timestamptz - interval '40 days', 'k1',
       substr(decode(md5(n::text), 'hex'), 1, 12),
       decode(repeat(md5(n::text), 10), 'hex'),
       ARRAY['buyer_name', 'ship_to.address_line1'],
       $1::timestamptz - interval '31 days', $1::timestamptz - interval '31 days', 'completed',
       $1::timestamptz - interval '1 day' + (n % 3600) * interval '1 second', 'retention'
FROM generate_series(1, $2) AS n
"""
_RESTORE = """
UPDATE vault SET key_id = 'k1', nonce = substr(decode(md5(amazon_order_id), 'hex'), 1, 12),
       sealed = decode(repeat(md5(amazon_order_id), 10), 'hex'), redacted_at = NULL, redaction_reason = NULL
"""
_PLAIN = """
UPDATE vault SET key_id = NULL, nonce = NULL, sealed = NULL, redacted_at = $1, redaction_reason = 'retention_elapsed'
WHERE redacted_at IS NULL AND redact_at <= $1
"""


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=GOAL_ORDERS)
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    async with scratch_database() as url:
        settings = servicekit.PostgresSettings(dsn=url, schema_name=bootstrap.SCHEMA)
        async with servicekit.postgres_pool(settings) as pool:
            started = time.perf_counter()
            async with pool.acquire() as conn:
                await conn.execute(_SEED, NOW, args.orders)
                await conn.execute("ANALYZE vault")
            print(f"seeded {args.orders:,} due orders in {time.perf_counter() - started:.1f} s")

            jobs = [RedactionJob(pool, now=lambda: NOW, batch_size=args.batch) for _ in range(args.replicas)]
            started = time.perf_counter()
            await asyncio.gather(*(job.tick() for job in jobs))
            job_s = time.perf_counter() - started
            async with pool.acquire() as conn:
                left = await conn.fetchval("SELECT count(*) FROM vault WHERE sealed IS NOT NULL")
                events = await conn.fetchval("SELECT count(DISTINCT key) FROM outbox WHERE topic = 'order.redacted'")
                rows = await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'order.redacted'")
            assert left == 0 and events == rows == args.orders, (left, events, rows)

            async with pool.acquire() as conn:
                await conn.execute(_RESTORE)
                started = time.perf_counter()
                await conn.execute(_PLAIN, NOW + timedelta(seconds=1))
                plain_s = time.perf_counter() - started
    job_rate, plain_rate = args.orders / job_s, args.orders / plain_s
    print(f"redaction job ({args.replicas} replicas, batches of {args.batch}, outbox event each): "
          f"{args.orders:,} in {job_s:.1f} s = {job_rate:,.0f} redactions/s")  # fmt: skip
    print(f"plain UPDATE of the same rows (no outbox, one statement): {plain_s:.1f} s = {plain_rate:,.0f} rows/s")
    print(f"job / plain UPDATE: {job_rate / plain_rate:.2f}x")
    projected = GOAL_ORDERS / job_rate
    verdict = "meets" if projected <= GOAL_SECONDS else "misses"
    print(f"1,000,000 due orders at this rate: {projected / 60:.1f} min ({verdict} the 10 min goal)")


if __name__ == "__main__":
    asyncio.run(main())
