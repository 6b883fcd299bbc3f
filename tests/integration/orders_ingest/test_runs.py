"""Sync history: failures and retries, resync, custom ranges, replay, roles, retention, replicas, no PII."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import contracts
import httpx
from testkit import SqsQueue, eventually
from testkit.sandbox import Sandbox

from .harness import running, sandbox_to_queue


async def test_injected_429s_and_503s_fail_a_run_and_a_later_one_completes_without_duplicates(
    database_url, kafka_bootstrap, sandbox: Sandbox, topics, producer
) -> None:
    orders = [sandbox.create_order([{"sku": f"SKU-{n}", "quantity": 1}]) for n in range(4)]
    await sandbox.until_searchable(*orders)
    # 5 attempts per call: the first run meets 3 429s then 2 503s and gives up; a later run succeeds.
    sandbox.fault(operation="searchOrders", status=429, count=3)
    sandbox.fault(operation="searchOrders", status=503, count=2)
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        await h.connect(producer, "conn-faults")
        events = await h.received(expect=4)
        runs = [await h.wait_for_run(trigger="scheduled", status="failed"), await h.wait_for_run(status="succeeded")]

    assert sorted(e.data.amazon_order_id for e in events) == sorted(o["AmazonOrderId"] for o in orders)
    assert len({e.id for e in events}) == 4
    failed, succeeded = runs
    assert "ServerError" in failed["error"] and "HTTP 503" in failed["error"] and failed["records_fetched"] == 0
    assert succeeded["id"] > failed["id"] and succeeded["records_published"] == 4
    statuses = [r["status"] for r in sandbox.requests(operation="searchOrders")]
    assert statuses.count(429) == 3 and statuses.count(503) == 2


async def test_resync_and_custom_ranges_publish_only_what_is_new_or_failed_and_replay_repeats_the_same_ids(
    database_url, kafka_bootstrap, sandbox: Sandbox, topics, producer
) -> None:
    start = datetime.now(UTC) - timedelta(seconds=5)
    early = [sandbox.create_order([{"sku": f"EARLY-{n}", "quantity": 1}]) for n in range(3)]
    await sandbox.until_searchable(*early)
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        # 4 h between polls (144 s here): only the runs this test asks for happen.
        await h.connect(producer, "conn-resync", order_poll_interval_minutes=240)
        first = await h.wait_for_run(trigger="scheduled")
        assert first["records_published"] == 3
        late = sandbox.create_order([{"sku": "LATE-1", "quantity": 1}])
        broken = sandbox.create_order([{"sku": "B" * 41, "quantity": 1}])
        # Amazon takes whole seconds: the range ends on the first whole second after these orders' last change,
        # as soon as searchOrders accepts that as its Before.
        last_change = max(datetime.fromisoformat(o["LastUpdateDate"]) for o in (late, broken))
        until = last_change.replace(microsecond=0) + timedelta(seconds=1)
        await sandbox.until_horizon_passes(until)

        async with h.api() as api:
            resync = (await api.post(f"/admin/sync-runs/{first['id']}/resync")).json()
            resynced = await h.wait_for_run(id=resync["id"])
            body = {"from": start.isoformat(), "to": until.isoformat()}
            ranged = (await api.post("/admin/connections/conn-resync/sync", json=body)).json()
            ranged = await h.wait_for_run(id=ranged["id"])
            replay = (await api.post("/admin/connections/conn-resync/sync", json={**body, "replay": True})).json()
            replayed = await h.wait_for_run(id=replay["id"])
            replay_resync = (await api.post(f"/admin/sync-runs/{first['id']}/resync", json={"replay": True})).json()
            await h.wait_for_run(id=replay_resync["id"])

        # The first run's window again: nothing new in it.
        assert (resynced["resync_of"], resynced["window_from"]) == (first["id"], first["window_from"])
        # The end is rounded up to Amazon's whole seconds, never down.
        end, first_end = (datetime.fromisoformat(r["window_to"]) for r in (resynced, first))
        assert timedelta(0) <= end - first_end < timedelta(seconds=1)
        assert (resynced["records_published"], resynced["records_unchanged"]) == (0, 3)
        # A wider range: only the late order is new; the broken one fails again and is listed.
        assert (ranged["records_published"], ranged["records_unchanged"], ranged["records_failed"]) == (1, 3, 1)
        assert replayed["records_published"] == 4 and replayed["replay"] is True

        events = await h.received(expect=4 + 4 + 3)
        ids = [e.id for e in events]
        by_order: dict[str, set[str]] = {}
        for e in events:
            by_order.setdefault(e.data.amazon_order_id, set()).add(e.id)
        assert sorted(by_order) == sorted(o["AmazonOrderId"] for o in [*early, late])
        assert all(len(v) == 1 for v in by_order.values())  # a replay repeats the very same event ids
        assert len(ids) == 11 and broken["AmazonOrderId"] not in by_order


async def test_admin_endpoints_require_their_roles(database_url, kafka_bootstrap, sandbox: Sandbox, topics, producer):
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        await h.connect(producer, "conn-roles", order_poll_interval_minutes=240)
        run = await h.wait_for_run(trigger="scheduled")
        reads = ["/admin/sync-runs", f"/admin/sync-runs/{run['id']}", "/admin/connections"]
        writes = [
            (f"/admin/sync-runs/{run['id']}/resync", {}),
            ("/admin/connections/conn-roles/sync-now", None),
            ("/admin/connections/conn-roles/sync", {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}),
        ]
        async with httpx.AsyncClient(base_url=h.url) as anonymous:
            assert {(await anonymous.get(p)).status_code for p in reads} == {401}
            assert {(await anonymous.post(p, json=b)).status_code for p, b in writes} == {401}
            wrong = {"authorization": "Bearer not-a-real-token-at-all"}
            assert (await anonymous.get(reads[0], headers=wrong)).status_code == 401
        async with h.api("viewer") as viewer:
            assert {(await viewer.get(p)).status_code for p in reads} == {200}
            assert {(await viewer.post(p, json=b)).status_code for p, b in writes} == {403}
        for role in ("operator", "admin"):
            async with h.api(role) as api:
                assert {(await api.post(p, json=b)).status_code for p, b in writes} == {202}
        async with h.api() as api:
            assert (await api.post("/admin/connections/nope/sync-now")).status_code == 404
            assert (await api.get("/admin/sync-runs/999999")).status_code == 404
            backwards = {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
            assert (await api.post("/admin/connections/conn-roles/sync", json=backwards)).status_code == 422
            naive = {"from": "2026-01-01T00:00:00", "to": "2026-01-02T00:00:00Z"}
            assert (await api.post("/admin/connections/conn-roles/sync", json=naive)).status_code == 422


async def test_the_service_stores_no_pii(
    database_url, kafka_bootstrap, sandbox: Sandbox, topics, producer, sqs: SqsQueue
) -> None:
    buyer = {"buyerName": "Quentin Zebulon", "buyerEmail": "qz4711@marketplace.sandbox.invalid"}
    address = {"name": "Quentin Zebulon", "addressLine1": "77 Unmistakable Lane", "city": "Reno",
               "stateOrRegion": "NV", "postalCode": "89599", "countryCode": "US",
               "phone": "+1 775-555-0199"}  # fmt: skip
    order = sandbox.create_order([{"sku": "TENT-2P", "quantity": 1}], buyer=buyer, address=address)
    await sandbox.until_searchable(order)
    async with (
        running(
            database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, queue=sqs
        ) as h,
        sandbox_to_queue(sandbox, sqs),
    ):
        await h.connect(producer, "conn-pii")
        (event,) = await h.received(expect=1)
        assert event.data.ship_to.address_line1 == "77 Unmistakable Lane"  # the event carries it, by design
        sandbox.transition(order["AmazonOrderId"], buyer_cancel_request=True, reason="Quentin changed his mind")
        await h.wait_for_run(trigger="notification")
        tables = [r["table_name"] for r in await h.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'orders_ingest'"
            " AND table_name NOT IN ('outbox', 'inbox')"
        )]  # fmt: skip
        dump = ""
        for table in tables:
            dump += "\n".join(str(dict(r)) for r in await h.fetch(f"SELECT * FROM orders_ingest.{table}"))
    assert order["AmazonOrderId"] in dump  # the bookkeeping is there ...
    for pii in ("Quentin", "Zebulon", "qz4711", "Unmistakable", "89599", "555-0199"):
        assert pii not in dump  # ... and no PII (the outbox holds events only until the relay has sent them)


async def test_retention_keeps_succeeded_runs_30_days_and_failed_ones_60(
    database_url, kafka_bootstrap, sandbox: Sandbox, topics
) -> None:
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        ages = {("succeeded", 29): True, ("succeeded", 31): False, ("failed", 59): True, ("failed", 61): False}
        ids = {}
        for (status, days), _ in ages.items():
            rows = await h.fetch(
                """INSERT INTO sync_history_runs (connection_id, trigger, lane, status, started_at, ended_at)
                   VALUES ('conn-old', 'scheduled', 'poll', $1, now() - make_interval(days => $2),
                           now() - make_interval(days => $2)) RETURNING id""",
                status, days,
            )  # fmt: skip
            ids[(status, days)] = rows[0]["id"]
            await h.fetch("INSERT INTO sync_history_errors (run_id, error) VALUES ($1, 'x')", rows[0]["id"])
        assert h.service is not None
        assert await h.service.retention.purge() == 2
        left = {r["id"] for r in await h.fetch("SELECT id FROM sync_history_runs")}
        assert {key for key, run_id in ids.items() if run_id in left} == {k for k, keep in ages.items() if keep}
        assert len(await h.fetch("SELECT 1 FROM sync_history_errors")) == 2


async def test_two_replicas_never_poll_one_connection_at_once_and_publish_each_order_once(
    database_url, kafka_bootstrap, sandbox: Sandbox, topics, producer
) -> None:
    orders = [sandbox.create_order([{"sku": f"R-{n}", "quantity": 1}]) for n in range(30)]
    await sandbox.until_searchable(*orders)
    sandbox.fault(operation="searchOrders", latency_ms=300)  # polls take a while, so both replicas want them
    kw = {"database_url": database_url, "kafka_bootstrap": kafka_bootstrap, "sandbox": sandbox, "topics": topics}
    async with running(**kw) as one, running(**kw) as two:
        await one.connect(producer, "conn-replicas")
        events = await one.received(expect=30)

        async def polls_done() -> list:
            runs = [r for r in await two.runs() if r["trigger"] == "scheduled"]
            return runs if len(runs) >= 2 and all(r["status"] == "succeeded" for r in runs) else []

        runs = await eventually(polls_done, timeout=40)
    spans = sorted((r["started_at"], r["ended_at"]) for r in runs)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), "two polls of one connection overlapped"
    assert sorted(e.data.amazon_order_id for e in events) == sorted(o["AmazonOrderId"] for o in orders)
    assert len(events) == 30


async def test_a_tombstone_removes_the_connection_and_its_schedule(
    database_url, kafka_bootstrap, sandbox: Sandbox, topics, producer
) -> None:
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        await h.connect(producer, "conn-gone", order_poll_interval_minutes=240)
        await h.wait_for_run(trigger="scheduled")
        record = contracts.tombstone("connection.updated", "conn-gone")
        await producer.send_and_wait(topics.connections, None, key=record.key)

        async def gone() -> bool:
            async with h.api("viewer") as api:
                return (await api.get("/admin/connections")).json() == []

        await eventually(gone, timeout=20)
        assert await h.fetch("SELECT * FROM schedules") == []
        async with h.api() as api:
            assert (await api.post("/admin/connections/conn-gone/sync-now")).status_code == 404
        assert len(await h.fetch("SELECT * FROM sync_history_runs")) == 1  # history stays
