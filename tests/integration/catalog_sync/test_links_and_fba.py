"""SKU links on listing.updated, the listing view, FBA quantities and the FBA mismatch list."""

from __future__ import annotations

from testkit import eventually

from .harness import decode, running


async def test_links_travel_on_listing_updated_and_repeating_them_changes_nothing(
    database_url, kafka_bootstrap, sandbox, topics, producer
):
    sandbox.create_listing("TENT-MFN", quantity=4, price="99.00")
    sandbox.create_listing("TENT-FBA", quantity=None, fulfillment="AFN", price="99.00")
    sandbox.create_listing("STAKE", quantity=9, price="4.00")
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        await h.connect(producer, "conn-links")
        await h.wait_for_runs(1, trigger="scheduled", records_fetched=3)
        links = {"links": [{"sku": "TENT-MFN", "item_id": "ITEM-TENT"}, {"sku": "TENT-FBA", "item_id": "ITEM-TENT"}]}
        async with h.api() as api:
            first = (await api.put("/admin/connections/conn-links/sku-links", json=links)).json()
            again = (await api.put("/admin/connections/conn-links/sku-links", json=links)).json()
            duplicate = await api.put(
                "/admin/connections/conn-links/sku-links",
                json={"links": [{"sku": "STAKE", "item_id": "A"}, {"sku": "STAKE", "item_id": "B"}]},
            )
            too_long = await api.put(
                "/admin/connections/conn-links/sku-links", json={"links": [{"sku": "S" * 41, "item_id": "A"}]}
            )
            unknown = await api.put("/admin/connections/nope/sku-links", json=links)
            view = (await api.get("/admin/listings/TENT-FBA")).json()
            missing = await api.get("/admin/listings/NOT-THERE")
        records = await h.records("listing.updated", expect=5)

    assert first == {"links": 2, "changed": 2, "republished": 2}
    assert again == {"links": 2, "changed": 0, "republished": 0}
    for answer in (duplicate, too_long):
        assert answer.status_code == 422 and answer.headers["content-type"].startswith("application/problem+json")
    assert unknown.status_code == 404 and missing.status_code == 404
    assert len(records) == 5
    latest = {}
    for event in decode("listing.updated", records):
        if event.data.revision >= latest.get(event.data.sku, (0, None))[0]:
            latest[event.data.sku] = (event.data.revision, event.data)
    assert {sku: d.item_id for sku, (_, d) in latest.items()} == {
        "TENT-MFN": "ITEM-TENT", "TENT-FBA": "ITEM-TENT", "STAKE": "STAKE"
    }  # fmt: skip
    assert latest["TENT-FBA"][1].fulfillment_channel == "FBA" and latest["TENT-MFN"][1].mfn_quantity == 4
    [entry] = view
    assert entry["listing"]["item_id"] == "ITEM-TENT" and entry["revision"] == 2
    assert entry["amazon_last_updated"] is not None


async def test_an_fba_mismatch_is_listed_and_gone_after_the_wms_corrects_it(
    database_url, kafka_bootstrap, sandbox, topics, producer
):
    fba = {"fulfillable": 40, "inbound_shipped": 12, "reserved": 2}
    sandbox.create_listing("BAG-FBA", quantity=None, fulfillment="AFN", fba=fba)
    sandbox.create_listing("MUG-FBA", quantity=None, fulfillment="AFN", fba={"fulfillable": 5})
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        await h.connect(producer, "conn-fba", fba_warehouse_id="WH-FBA")
        await h.wait_for_runs(1, lane="fba", records_fetched=2)
        inventory = decode("fba.inventory", await h.records("fba.inventory", expect=2))
        await h.stock(producer, "BAG-FBA", "WH-FBA", 37)
        await h.stock(producer, "MUG-FBA", "WH-FBA", 5)
        await h.stock(producer, "BAG-FBA", "WH-ELSEWHERE", 1)  # not the FBA mirror: ignored

        async def listed() -> list | None:
            async with h.api("viewer") as api:
                found = (await api.get("/admin/connections/conn-fba/fba-mismatches")).json()["mismatches"]
            return found or None

        [mismatch] = await eventually(listed, timeout=20)
        await h.stock(producer, "BAG-FBA", "WH-FBA", 40)

        async def cleared() -> bool:
            async with h.api("viewer") as api:
                return (await api.get("/admin/connections/conn-fba/fba-mismatches")).json()["mismatches"] == []

        await eventually(cleared, timeout=20)

    bag = next(e.data for e in inventory if e.data.sku == "BAG-FBA")
    assert (bag.fulfillable, bag.inbound_shipped, bag.reserved, bag.total) == (40, 12, 2, 54)
    assert bag.listing_key == "conn-fba:BAG-FBA"
    assert {k: mismatch[k] for k in ("sku", "ours", "amazon", "difference")} == {
        "sku": "BAG-FBA", "ours": 37, "amazon": 40, "difference": -3
    }  # fmt: skip
    assert mismatch["since"]
