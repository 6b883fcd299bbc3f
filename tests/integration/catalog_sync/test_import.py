"""The listings import against the sandbox: every listing once, only changes republished, gone SKUs tombstoned."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from catalog_sync.sync import Tuning
from testkit import eventually
from testkit.sandbox import SPEEDUP

from .harness import decode, running

COUNT = 5000


def _keys(records):
    return [r.key.decode() for r in records]


@pytest.mark.slow
async def test_a_seller_with_5000_listings_gets_each_once_with_channel_and_parent(
    database_url, kafka_bootstrap, sandbox, topics, producer
):
    made = sandbox.client.post(
        "/_sandbox/generator/catalog", json={"count": COUNT, "fba_share": 0.3, "family_size": 4, "prefix": "BIG"}
    ).json()
    assert made["count"] == COUNT and made["fba"] > COUNT // 10 and made["children"] > COUNT // 10
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        await h.connect(producer, "conn-big")
        [run] = await h.wait_for_runs(1, timeout=300, trigger="scheduled", records_fetched=COUNT)
        records = await h.records("listing.updated", expect=COUNT, timeout=60)

    assert run["status"] == "succeeded" and run["records_published"] == COUNT and run["records_failed"] == 0
    assert Counter(_keys(records)).most_common(1)[0][1] == 1 and len(records) == COUNT
    events = {e.data.sku: e.data for e in decode("listing.updated", records)}
    truth = {row["sku"]: row for row in sandbox.client.get("/_sandbox/catalog/A1SANDBOXSELLER").json()}
    assert set(events) == set(truth)
    for sku, listing in events.items():
        expected = truth[sku]
        assert listing.fulfillment_channel == ("FBA" if expected["fulfillment"] == "AFN" else "MFN"), sku
        assert listing.parent_sku == expected["parent_sku"], sku
        assert listing.variation_attributes == expected["variation_attributes"], sku
        assert listing.item_id == sku and listing.listing_key == f"conn-big:{sku}"
    child = next(e for e in events.values() if e.parent_sku)
    assert child.variation_theme == truth[child.parent_sku]["variation_theme"]


async def test_added_changed_and_deleted_listings_and_nothing_else_on_the_next_run(
    database_url, kafka_bootstrap, sandbox, topics, producer
):
    for n in range(12):
        sandbox.create_listing(f"KEEP-{n:02d}", quantity=5 + n, price="10.00")
    sandbox.create_listing("CHANGE-ME", quantity=3, price="10.00")
    sandbox.create_listing("DELETE-ME", quantity=3, price="10.00")
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        await h.connect(producer, "conn-diff", catalog_poll_interval_minutes=30)
        await h.wait_for_runs(1, trigger="scheduled", records_fetched=14)
        [schedule] = await h.fetch("SELECT next_catalog_at - imported_at AS ahead FROM catalog_schedules")
        # The next import is due 30 minutes (÷ speed-up 100: 18 s) after this one started.
        assert 5 < schedule["ahead"].total_seconds() <= 30 * 60 / SPEEDUP
        first = await h.records("listing.updated", expect=14)
        assert len(first) == 14

        sandbox.create_listing("NEW-ONE", quantity=1, price="5.00")
        sandbox.create_listing("CHANGE-ME", quantity=3, price="12.50")
        sandbox.client.delete("/_sandbox/listings/A1SANDBOXSELLER/DELETE-ME").raise_for_status()
        async with h.api() as api:
            (await api.post("/admin/connections/conn-diff/sync-now")).raise_for_status()
        runs = await h.wait_for_runs(1, trigger="manual")
        async with h.api() as api:
            resync = await api.post(f"/admin/sync-runs/{runs[-1]['id']}/resync")
        assert resync.status_code == 202
        [again] = await h.wait_for_runs(1, trigger="resync")
        everything = await h.records("listing.updated", expect=17)

    manual = runs[-1]
    assert manual["status"] == "succeeded"
    assert (manual["records_published"], manual["records_deleted"], manual["records_unchanged"]) == (2, 1, 12)
    assert (again["status"], again["records_published"], again["records_unchanged"]) == ("succeeded", 0, 14)
    counts = Counter(_keys(everything))
    assert len(everything) == 17
    assert {k for k, n in counts.items() if n == 2} == {"conn-diff:CHANGE-ME", "conn-diff:DELETE-ME"}
    assert counts["conn-diff:NEW-ONE"] == 1 and set(counts.values()) == {1, 2}
    tombstones = [r for r in everything if r.value is None]
    assert [r.key for r in tombstones] == [b"conn-diff:DELETE-ME"]
    after = [r for r in everything if r.key in (b"conn-diff:CHANGE-ME", b"conn-diff:NEW-ONE")]
    revisions = {e.data.revision: e.data for e in decode("listing.updated", after) if e.data.sku == "CHANGE-ME"}
    assert sorted(revisions) == [1, 2] and str(revisions[2].price.amount) == "12.50"


async def test_a_restarted_import_loses_no_sku_and_publishes_no_state_twice(
    database_url, kafka_bootstrap, sandbox, topics, producer
):
    sandbox.client.post("/_sandbox/generator/catalog", json={"count": 600, "family_size": 3, "prefix": "CR"})
    # Small batches, so the crash lands mid-import; a short lane lease, so the next process takes the lane at once.
    slow = Tuning(speedup=SPEEDUP, batch_size=20, lane_lease=timedelta(seconds=100))
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, tuning=slow,
        crash=True,
    ) as h:  # fmt: skip
        await h.connect(producer, "conn-crash")

        async def some_published() -> bool:
            rows = await h.fetch("SELECT count(*) AS n FROM listings")
            return 100 <= rows[0]["n"] < 600

        await eventually(some_published, timeout=60, interval=0.05)
    # The process is gone mid-import; a new one takes over the interrupted run's work.
    async with running(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics, tuning=slow
    ) as h:
        done = await h.wait_for_runs(2, timeout=60, lane="catalog")
        records = await h.records("listing.updated", expect=600, timeout=60)

    statuses = [(r["status"], r["error"] or "") for r in done]
    assert statuses[0][0] == "failed" and statuses[0][1].startswith("interrupted")
    assert done[-1]["status"] == "succeeded"
    by_key: dict[bytes, set[str]] = {}
    for record in records:
        event_id = dict(record.headers)["ce_id"].decode()
        by_key.setdefault(record.key, set()).add(event_id)
    assert len(by_key) == 600
    # At-least-once delivery may repeat a record, never with another event id: one state, one event.
    assert {len(ids) for ids in by_key.values()} == {1}
