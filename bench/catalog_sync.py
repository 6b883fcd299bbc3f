# ruff: noqa: E402 - the import path is fixed (below) before the imports that depend on it
"""catalog-sync import throughput: listings/s from a downloaded GET_MERCHANT_LISTINGS_ALL_DATA report to committed
outbox rows (parse by column name, hash, contract validation, state and outbox in PostgreSQL), against a plain
`csv` parse of the same file in the same run. The report is downloaded once from the sandbox first (timed apart);
getListingsItem is left out (its cost is Amazon's rate limit, not ours). `make infra` first.

`uv run python bench/catalog_sync.py [--listings 5000]`; prints numbers, asserts nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the service's package: keep its folder off the import path so `catalog_sync` is the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import contextlib
import csv
import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import contracts
import httpx
import sellers
import servicekit
import spapi
from catalog_sync import bootstrap, listings_report, repository
from catalog_sync.sync import CatalogEngine, Tuning
from catalog_sync.sync_history import HISTORY, Lane
from spapi_sandbox import SandboxConfig, running
from synchistory import Trigger

ROOT = Path(__file__).resolve().parents[1]
SPEEDUP = 100.0
SELLER = "A1SANDBOXSELLER"


def postgres_url() -> str:
    return subprocess.run(
        [str(ROOT / "infra/postgres/postgres.sh"), "url"], capture_output=True, text=True, check=True
    ).stdout.strip()


@contextlib.asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    server = postgres_url()
    name = f"bench_catalog_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    try:
        await servicekit.migrate_database(url, bootstrap.SCHEMA, bootstrap.MIGRATIONS)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def download(url: str, count: int) -> str:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        answer = await http.post("/_sandbox/reset")
        refresh = answer.json()["default_seller"]["refresh_token"]
        made = await http.post("/_sandbox/generator/catalog", json={"count": count, "prefix": "BENCH"})
        made.raise_for_status()
        token = (
            await http.post(
                "/auth/o2/token",
                data={"grant_type": "refresh_token", "refresh_token": refresh, "client_id": "b", "client_secret": "b"},
            )
        ).json()["access_token"]
        clients = spapi.SpApiClients(http, lambda _: spapi.StaticTokenSource(token), endpoint_url=url, speedup=SPEEDUP)
        connection = _connection()
        engine = CatalogEngine(pool=None, clients=clients, tuning=Tuning(speedup=SPEEDUP))  # type: ignore[arg-type]
        return await engine.download_report(clients.for_connection(connection), "ATVPDKIKX0DER")


def _connection() -> sellers.Connection:
    example = json.loads(json.dumps(contracts.EXAMPLES["connection.updated"][0]))
    example.update(connection_id="conn-bench", marketplace_ids=["ATVPDKIKX0DER"], selling_partner_id=SELLER)
    data = contracts.ConnectionUpdatedV1.model_validate(example)
    return sellers.Connection(
        connection_id=data.connection_id,
        status=data.status,
        region=spapi.Region.NA,
        marketplace_ids=data.marketplace_ids,
        selling_partner_id=data.selling_partner_id,
        settings=data.settings,
        revision=data.revision,
    )


async def service_import(database_url: str, text: str) -> tuple[float, int]:
    connection = _connection()
    async with servicekit.postgres_pool(
        servicekit.PostgresSettings(dsn=database_url, schema_name="catalog_sync")
    ) as pool:
        engine = CatalogEngine(pool=pool, clients=None, tuning=Tuning())  # type: ignore[arg-type]
        async with pool.acquire() as conn:
            run = await HISTORY.start_run(conn, connection_id="conn-bench", trigger=Trigger.MANUAL, lane=Lane.CATALOG)
        started = time.perf_counter()
        parsed = listings_report.parse(text)
        async with pool.acquire() as conn:
            known = await repository.known_listings(conn, "conn-bench")
        await engine.apply_report(run, connection, None, "ATVPDKIKX0DER", parsed, known, set())
        elapsed = time.perf_counter() - started
        async with pool.acquire() as conn:
            rows = int(await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = 'listing.updated'"))
    return elapsed, rows


def plain_parse(text: str) -> tuple[float, int]:
    started = time.perf_counter()
    rows = list(csv.DictReader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))
    return time.perf_counter() - started, len(rows)


async def main(count: int) -> None:
    with running(SandboxConfig(speedup=SPEEDUP)) as url:
        started = time.perf_counter()
        text = await download(url, count)
        fetched = time.perf_counter() - started
    print(f"report: {count} listings, {len(text.encode()) / 1024:.0f} KiB, created+downloaded in {fetched:.2f}s")
    async with scratch_database() as db:
        service_s, published = await service_import(db, text)
    baseline_s, parsed = plain_parse(text)
    ours, plain = published / service_s, parsed / baseline_s
    print(f"catalog-sync: {published} listings to committed outbox rows in {service_s:.2f}s = {ours:,.0f}/s")
    print(f"plain csv.DictReader of the same file: {parsed} rows in {baseline_s * 1000:.1f}ms = {plain:,.0f}/s")
    print(f"ratio (csv parse / catalog-sync): {plain / ours:.0f}x")
    print(f"at {datetime.now(UTC).isoformat(timespec='seconds')}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--listings", type=int, default=5000)
    asyncio.run(main(parser.parse_args().listings))
