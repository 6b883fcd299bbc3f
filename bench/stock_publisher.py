# ruff: noqa: E402 - the import path is fixed (below) before the imports that depend on it
"""stock-publisher against the sandbox, real Kafka and real PostgreSQL (`make infra` first).

1. stock.changed consumed and coalesced per second (stored, compared with the last as_of, the connections it
   feeds made due), as a ratio of a raw aiokafka consume of the very same records in this run.
2. Freshness in near-real-time mode at Amazon's real limits (sandbox speed-up 1, writes applied 30 s after
   acceptance): event -> accepted and event -> applied, p50/p99, read from stock.published.

`uv run python bench/stock_publisher.py [--skus 5000] [--fresh 20]`; prints numbers, asserts nothing.
3. The fraction of Amazon's feed ceiling used under a backlog (`--backlog` SKUs changed at once, sandbox in its own
   process at `--backlog-speedup`), and the updates that changed nothing, beside bench/spapi_throughput.py's feed
   pipeline run in this run.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the service's package: keep its folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import contracts
import httpx
import servicekit
import spapi
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from messaging import KafkaSettings, ensure_topics, kafka_producer, namespaced
from spapi_sandbox import SandboxConfig, running
from stock_publisher import bootstrap
from stock_publisher.publisher import Tuning
from stock_publisher.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
KAFKA = "127.0.0.1:19092"
SELLER = "A1SANDBOXSELLER"
MARKETPLACE = "ATVPDKIKX0DER"
CONN = "bench-stock"


def postgres_url() -> str:
    return subprocess.run(
        [str(ROOT / "infra/postgres/postgres.sh"), "url"], capture_output=True, text=True, check=True
    ).stdout.strip()


@contextlib.asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    server = postgres_url()
    name = f"bench_stock_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    try:
        await servicekit.migrate_database(url, bootstrap.SCHEMA, bootstrap.MIGRATIONS)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def connection_event(**settings: Any) -> Any:
    example = json.loads(json.dumps(contracts.EXAMPLES["connection.updated"][0]))
    example.update(connection_id=CONN, revision=1, status="active", region="NA", marketplace_ids=[MARKETPLACE],
                   selling_partner_id=SELLER, warnings=[], updated_at=datetime.now(UTC).isoformat())  # fmt: skip
    example["settings"].update({"stock_cadence": {"mode": "near_real_time"}, "stock_warehouse_ids": ["W1", "W2"]})
    example["settings"].update(settings)
    data = contracts.ConnectionUpdatedV1.model_validate(example)
    return contracts.new_event("connection.updated", data, source="bench", revision="1")


def listing_event(sku: str) -> Any:
    data = contracts.ListingUpdatedV1(
        connection_id=CONN, sku=sku, listing_key=contracts.listing_key(CONN, sku), revision=1,
        marketplace_id=MARKETPLACE, status="BUYABLE", fulfillment_channel="MFN", item_id=sku,  # type: ignore[arg-type]
        updated_at=datetime.now(UTC),
    )  # fmt: skip
    return contracts.new_event("listing.updated", data, source="bench", revision="1")


def stock_event(sku: str, warehouse: str, available: int, as_of: datetime) -> Any:
    data = contracts.StockChangedV1(sku=sku, warehouse_id=warehouse, available=available, as_of=as_of)
    return contracts.new_event("stock.changed", data, source="bench", revision=as_of.isoformat())


async def send(producer: AIOKafkaProducer, namespace: str, events: list[Any]) -> None:
    futures = []
    for event in events:
        record = contracts.encode(event)
        futures.append(
            await producer.send(namespaced(namespace, event.type), record.value, key=record.key, headers=record.headers)
        )
    await asyncio.gather(*futures)


async def raw_consume(topic: str, count: int, *, decode: bool = False) -> float:
    """Seconds for a bare aiokafka consumer to read `count` records of `topic` from its start (`decode`: and to
    validate each with contracts.decode, the least any consumer that checks its input must also do)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=KAFKA, group_id=f"raw-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="earliest", enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        seen = 0
        started = time.perf_counter()
        while seen < count:
            for records in (await consumer.getmany(timeout_ms=500, max_records=500)).values():
                seen += len(records)
                if decode:
                    for record in records:
                        contracts.decode("stock.changed", record.value, record.headers)
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def until(probe: Any, timeout: float, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        if time.monotonic() > deadline:
            raise TimeoutError("the bench's condition was not met")
        await asyncio.sleep(interval)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.asynccontextmanager
async def service(
    db: str, namespace: str, sandbox_url: str, speedup: float, tuning: Tuning, group: str = "stock-publisher"
) -> AsyncIterator[Any]:
    settings = Settings(
        database_url=db, kafka_bootstrap_servers=KAFKA, kafka_namespace=namespace,
        admin_tokens="b:admin:" + uuid.uuid4().hex, connector_auth_url="http://127.0.0.1:9",
        service_token="unused-service-token-0000", spapi_endpoint_url=sandbox_url, sandbox_speedup=speedup,
        consumer_group=group,
    )  # type: ignore[call-arg]  # fmt: skip
    async with httpx.AsyncClient(base_url=sandbox_url) as http:
        token = (await http.post("/auth/o2/token", data={"grant_type": "refresh_token",
                 "refresh_token": "Atzr|sandbox-default-seller-refresh-token", "client_id": "x",
                 "client_secret": "y"})).json()["access_token"]  # fmt: skip
    async with bootstrap.build(settings, token_sources=lambda _c: spapi.StaticTokenSource(token), tuning=tuning) as svc:
        tasks = [asyncio.create_task(w.run()) for w in svc.workers]
        try:
            yield svc
        finally:
            for worker in svc.workers:
                await worker.stop()
            await asyncio.gather(*tasks, return_exceptions=True)


async def count(db: str, sql: str) -> int:
    conn = await asyncpg.connect(db, server_settings={"search_path": "stock_publisher"})
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def consume_rate(skus: int) -> None:
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    names = ("connection.updated", "stock.changed", "listing.updated", "stock.published", "dlq.stock-publisher")
    await ensure_topics(KAFKA, [t for t in contracts.kafka_topics() if t.name in names], namespace=namespace)
    with running(SandboxConfig(speedup=100.0)) as sandbox_url:
        async with scratch_database() as db, kafka_producer(KafkaSettings(bootstrap_servers=KAFKA)) as producer:
            items = [f"B-{i:05d}" for i in range(skus)]
            await send(producer, namespace, [connection_event(stock_sync_enabled=False)])
            await send(producer, namespace, [listing_event(s) for s in items])
            tuning = Tuning(speedup=100.0, coalesce=timedelta(seconds=120))
            # Listings and the connection first, so the stock is timed alone: the same group then finds only
            # stock.changed records it has not consumed.
            async with service(db, namespace, sandbox_url, 100.0, tuning):
                await until(lambda: _equal(db, "SELECT count(*) FROM listings", skus), 120)
            conn = await asyncpg.connect(db, server_settings={"search_path": "stock_publisher"})
            await conn.execute(
                """UPDATE connections SET settings = jsonb_set(settings, '{stock_sync_enabled}', 'true')"""
            )
            await conn.close()
            now = datetime.now(UTC)
            total = 0
            for start in range(0, skus, 1000):
                # Sent in slices and dropped: 40,000 events held here would tax the service's garbage collection.
                events = [
                    stock_event(s, w, i % 40, now)
                    for i, s in enumerate(items[start : start + 1000])
                    for w in ("W1", "W2")
                ]
                await send(producer, namespace, events)
                total += len(events)
            del events
            raw = await raw_consume(namespace + ".stock.changed", total)
            decoding = await raw_consume(namespace + ".stock.changed", total, decode=True)
            first: list[tuple[float, int]] = []  # when the first batch was seen stored, and how many then

            async def all_stored() -> bool:
                stored = await count(db, "SELECT count(*) FROM stock_levels")
                if stored and not first:
                    first.append((time.perf_counter(), stored))
                return stored >= total

            booting = time.perf_counter()
            async with service(db, namespace, sandbox_url, 100.0, tuning) as svc:
                # Timed from the started consumer, as the raw consume is: joining the group and fetching count.
                await until(svc.consumer.ready, 30, interval=0.002)
                started = time.perf_counter()
                await until(all_stored, 300)
                ours = time.perf_counter() - started
            nudged = await count(db, "SELECT count(*) FROM push_schedule WHERE pending_since IS NOT NULL")
    print(f"stock.changed consumed+coalesced: {total / ours:,.0f}/s ({total} records in {ours:.2f} s "
          f"from the consumer's start, joining the group included; service start-up before it "
          f"{started - booting:.2f} s; connections made due: {nudged})")  # fmt: skip
    (seen_at, seen), ended = first[0], started + ours
    print(f"  after the first batch was seen stored: {(total - seen) / max(ended - seen_at, 1e-9):,.0f}/s")
    print(f"raw aiokafka consume of the same records: {total / raw:,.0f}/s; ratio {raw / ours:.2f} (goal >= 0.5)")
    print(
        f"  the same consume validating each record with contracts.decode: {total / decoding:,.0f}/s "
        f"(ratio to raw {raw / decoding:.2f}); ours against it: {decoding / ours:.2f}"
    )


async def _equal(db: str, sql: str, expected: int) -> bool:
    return await count(db, sql) >= expected


async def freshness(changes: int) -> None:
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    names = ("connection.updated", "stock.changed", "listing.updated", "stock.published", "dlq.stock-publisher")
    await ensure_topics(KAFKA, [t for t in contracts.kafka_topics() if t.name in names], namespace=namespace)
    skus = [f"F-{i:02d}" for i in range(10)]
    with running(SandboxConfig(speedup=1.0)) as sandbox_url:
        async with httpx.AsyncClient(base_url=sandbox_url) as http:
            for sku in skus:
                (
                    await http.post("/_sandbox/listings", json={"seller_id": SELLER, "sku": sku, "quantity": 0})
                ).raise_for_status()
        tuning = Tuning(speedup=1.0, apply_delay=timedelta(seconds=35))
        async with scratch_database() as db, kafka_producer(KafkaSettings(bootstrap_servers=KAFKA)) as producer:
            await send(producer, namespace, [listing_event(s) for s in skus] + [connection_event()])
            async with service(db, namespace, sandbox_url, 1.0, tuning):
                await until(lambda: _equal(db, "SELECT count(*) FROM listings", len(skus)), 60)
                sent: dict[tuple[str, int], float] = {}
                for n in range(changes):
                    sku = random.choice(skus)
                    quantity = 100 + n
                    sent[(sku, quantity)] = time.time()
                    await send(producer, namespace, [stock_event(sku, "W1", quantity, datetime.now(UTC))])
                    await asyncio.sleep(random.uniform(0.2, 1.0))
                accepted, applied = await read_outcomes(namespace, sent, timeout=150)
    print(f"freshness, near real time at Amazon's limits ({changes} changes over 10 SKUs):")
    for name, values in (("event -> accepted", accepted), ("event -> applied", applied)):
        if values:
            print(f"  {name}: p50 {statistics.median(values):.1f} s, p99 {pct(values, 0.99):.1f} s ({len(values)})")
    print("  (a change overtaken by a newer one for its SKU within the coalesce window is never sent: not counted)")


async def read_outcomes(
    namespace: str, sent: dict[tuple[str, int], float], timeout: float
) -> tuple[list[float], list[float]]:
    consumer = AIOKafkaConsumer(namespace + ".stock.published", bootstrap_servers=KAFKA,
                                group_id=f"fresh-{uuid.uuid4().hex[:6]}", auto_offset_reset="earliest")  # fmt: skip
    await consumer.start()
    accepted: dict[tuple[str, int], float] = {}
    applied: dict[tuple[str, int], float] = {}
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    data = contracts.decode("stock.published", r.value, list(r.headers)).data
                    key = (data.sku, data.quantity)
                    if key not in sent:
                        continue
                    at = data.published_at.timestamp()
                    (applied if data.verification == "applied" else accepted).setdefault(key, at - sent[key])
            last = {sku: max(q for s, q in sent if s == sku) for sku, _ in sent}
            if all((sku, q) in applied for sku, q in last.items()):
                break
    finally:
        await consumer.stop()
    return list(accepted.values()), list(applied.values())


# --- 3. the feed ceiling under a backlog -----------------------------------------------------------------------

FEEDS_PER_WINDOW, WINDOW_SECONDS = 5, 300.0  # createFeed(JSON_LISTINGS_FEED): 5 per 300 s per region, burst 5


@contextlib.contextmanager
def sandbox_process(speedup: float) -> Any:
    """The sandbox in a process of its own (its feed validation must not share our GIL), as `make up` runs it."""
    port = _free_port()
    child = subprocess.Popen([sys.executable, "-m", "spapi_sandbox", "--port", str(port), "--speedup", str(speedup),
                              "--log-level", "warning"])  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/_sandbox/health", timeout=2).status_code == 200:
                    break
            if child.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the sandbox did not start")
            time.sleep(0.2)
        yield url
    finally:
        child.terminate()
        child.wait(timeout=30)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _backlog_phase(svc: Any, db: str, speedup: float, started_feeds: int, skus: int) -> dict[str, float]:
    """Drains our JSON_LISTINGS_FEED bucket (the window measures the sustained rate), makes the push due, and
    waits until every SKU it sent is accepted. The window ends at the createFeed of the last full feed."""
    from stock_publisher import domain, repository
    from stock_publisher.sync_history import HISTORY, Lane

    bucket = svc.sync.clients.limiter.bucket(SELLER, domain.FEED_BUCKET)
    bucket.drain()
    tokens = bucket.available()
    started = datetime.now(UTC)
    conn = await asyncpg.connect(db, server_settings={"search_path": "stock_publisher"})
    try:
        async with conn.transaction():
            await repository.push_due_by(conn, CONN, started)
            await HISTORY.due(conn, CONN, Lane.PUSH, None)
        svc.scheduler.wake()
        expected = started_feeds + -(-skus // domain.MAX_FEED_MESSAGES)

        async def done() -> bool:
            n = await conn.fetchval("SELECT count(*) FROM feeds WHERE status = 'DONE'")
            return bool(n >= expected)

        await until(done, 900)
        rows = await conn.fetch(
            """SELECT created_at, submitted_at, (SELECT count(*) FROM jsonb_object_keys(items)) AS messages FROM feeds
               WHERE id > (SELECT coalesce(max(id), 0) FROM feeds WHERE submitted_at < $1) ORDER BY id""",
            started,
        )
    finally:
        await conn.close()
    full = [r for r in rows if r["messages"] == domain.MAX_FEED_MESSAGES]
    window = (max(r["submitted_at"] for r in full) - started).total_seconds() if full else float("nan")
    rate = FEEDS_PER_WINDOW / WINDOW_SECONDS * speedup  # tokens per wall second, the sandbox's and ours
    ceiling = (tokens + window * rate) * domain.MAX_FEED_MESSAGES
    sent, in_full = sum(r["messages"] for r in rows), sum(r["messages"] for r in full)

    # Per feed: seconds from the push's start to its intent (ready to upload) and to its createFeed.
    def offset(at: datetime) -> str:
        return f"{(at - started).total_seconds():.1f}"

    timeline = ", ".join(f"{offset(r['created_at'])}/{offset(r['submitted_at'])}" for r in rows)
    return {"feeds": len(rows), "full": len(full), "sent": sent, "in_full": in_full, "window": window,
            "ceiling": ceiling, "tokens": tokens, "timeline": timeline}  # fmt: skip


async def feed_ceiling(skus: int, speedup: float) -> None:
    """A backlog of `skus` changed SKUs, twice: all of them new to Amazon, then 90 % changed and 10 % restated
    with the quantity Amazon already has (a newer as_of, the same value). Stock and listings are written to
    PostgreSQL directly: consumption is section 1's business, the push is what is measured here."""
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    names = ("connection.updated", "stock.changed", "listing.updated", "stock.published", "dlq.stock-publisher")
    await ensure_topics(KAFKA, [t for t in contracts.kafka_topics() if t.name in names], namespace=namespace)
    with sandbox_process(speedup) as sandbox_url:
        async with httpx.AsyncClient(base_url=sandbox_url, timeout=600) as http:
            made = 0
            while made < skus:
                n = min(100_000, skus - made)
                body = {"seller_id": SELLER, "count": n, "fba_share": 0, "family_size": 0, "prefix": f"BL{made}"}
                (await http.post("/_sandbox/generator/catalog", json=body)).raise_for_status()
                made += n
            # The generator numbers from 1 per prefix: BL0-000001, ...
            listed = [f"BL{start}-{i:06d}" for start in range(0, skus, 100_000)
                      for i in range(1, min(100_000, skus - start) + 1)]  # fmt: skip
        async with scratch_database() as db, kafka_producer(KafkaSettings(bootstrap_servers=KAFKA)) as producer:
            conn = await asyncpg.connect(db, server_settings={"search_path": "stock_publisher"})
            now = datetime.now(UTC)
            await conn.copy_records_to_table("listings", records=[(CONN, s, MARKETPLACE, s, "MFN", "BUYABLE", 1, None)
                                                                   for s in listed])  # fmt: skip
            # The generator's quantities are 0..200: 1000 + n differs from every one of them.
            await conn.copy_records_to_table(
                "stock_levels", records=[(s, "W1", 1000 + i, now) for i, s in enumerate(listed)]
            )
            tuning = Tuning(speedup=speedup, apply_delay=timedelta(days=1))  # read-back is not measured here
            async with service(db, namespace, sandbox_url, speedup, tuning) as svc:
                # The connection off, then on: only then is the bucket drained and the push made due.
                await send(producer, namespace, [connection_event(stock_sync_enabled=False)])
                await until(lambda: _equal(db, "SELECT count(*) FROM connections", 1), 60)
                await conn.execute(
                    "UPDATE connections SET settings = jsonb_set(settings, '{stock_sync_enabled}', 'true')"
                )
                first = await _backlog_phase(svc, db, speedup, 0, skus)
                first_ledger = await _ledger(sandbox_url)
                # 90 % change, 10 % restate what Amazon already has.
                later = datetime.now(UTC)
                await conn.executemany(
                    "UPDATE stock_levels SET available = $2, as_of = $3 WHERE item_id = $1",
                    [(s, (1000 + i) if i % 10 == 0 else 5000 + i, later) for i, s in enumerate(listed)],
                )
                changed = sum(1 for i in range(skus) if i % 10)
                second = await _backlog_phase(svc, db, speedup, int(first["feeds"]), changed)
            await conn.close()
        ledger = await _ledger(sandbox_url)
    no_ops = 0  # second-backlog quantities equal to the one Amazon had before them
    for sku, values in ledger.items():
        known = len(first_ledger.get(sku, []))
        no_ops += sum(1 for n in range(max(known, 1), len(values)) if values[n] == values[n - 1])
    print(f"feed ceiling under a backlog (sandbox {speedup:g}x, our limiter too; JSON_LISTINGS_FEED 5 per 300 s, "
          f"25,000 messages per feed; our bucket drained first: the window measures the sustained rate):")  # fmt: skip
    for name, phase, backlog in (("all new", first, skus), ("90 % changed", second, changed)):
        fraction = phase["in_full"] / phase["ceiling"] if phase["full"] else float("nan")
        print(f"  {name}: {backlog} SKUs -> {phase['feeds']:.0f} feeds ({phase['sent']:.0f} messages); "
              f"{phase['full']:.0f} full feeds in {phase['window']:.1f} s wall = {phase['window'] * speedup:.0f} s "
              f"of Amazon time; FRACTION OF FEED CEILING {fraction:.3f} (goal >= 0.95)")  # fmt: skip
        print(f"    per feed, s after the push was due: recorded/createFeed {phase['timeline']}; a token every "
              f"{WINDOW_SECONDS / FEEDS_PER_WINDOW / speedup:.0f} s")  # fmt: skip
    print(f"  updates that changed nothing (sandbox ledger, second backlog): {no_ops} (goal 0); "
          f"sent {second['sent']:.0f} for {changed} changed SKUs")  # fmt: skip


async def _ledger(url: str) -> dict[str, list[Any]]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        entries = (await http.get("/_sandbox/ledger", params={"kind": "quantity"})).json()
    out: dict[str, list[Any]] = {}
    for entry in entries:
        out.setdefault(entry["sku"], []).append(entry["value"])
    return out


def feed_pipeline_baseline(speedup: float) -> None:
    """bench/spapi_throughput.py's feed pipeline (libs/spapi alone, its own sandbox), run now for the same-run line."""
    answer = subprocess.run([sys.executable, str(ROOT / "bench/spapi_throughput.py"), "--speedup", f"{speedup:g}"],
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    lines = [line.strip() for line in answer.stdout.splitlines() if "FRACTION OF CEILING" in line]
    said = lines[0] if lines else answer.stderr[-300:]
    print(f"  baseline, bench/spapi_throughput.py's feed pipeline in this run: {said}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skus", type=int, default=5000)
    parser.add_argument("--fresh", type=int, default=20)
    parser.add_argument("--backlog", type=int, default=100_000, help="SKUs changed at once (0: skip section 3)")
    parser.add_argument("--backlog-speedup", type=float, default=5.0)
    args = parser.parse_args()
    # What the service's own process does once started (servicekit.service_main): the raw consume and ours both
    # run under it.
    servicekit.settle_heap()
    await consume_rate(args.skus)
    await freshness(args.fresh)
    if args.backlog:
        await feed_ceiling(args.backlog, args.backlog_speedup)
        feed_pipeline_baseline(args.backlog_speedup)


if __name__ == "__main__":
    asyncio.run(main())
