"""An EU seller's Cp1252 report, and a row that cannot be read: a failed record, the rest published."""

from __future__ import annotations

from .harness import decode, running

DE = "A1PA6795UKMFR9"


async def test_cp1252_titles_arrive_intact_and_a_malformed_row_fails_alone(
    database_url, kafka_bootstrap, sandbox, topics, producer
):
    seller = sandbox.create_seller([DE], region="EU")
    seller_id = seller["selling_partner_id"]
    for sku, name in (("JACKE-1", "Trekking Jacke für Damen, Größe M"), ("LAMP-1", "Lampe 20 € \u2013 warmweiß")):
        sandbox.client.post(
            "/_sandbox/listings", json={"seller_id": seller_id, "sku": sku, "quantity": 3, "item_name": name,
                                        "price": "24.90"},
        ).raise_for_status()  # fmt: skip
    # A tab inside the title splits the row: Amazon's files are not quoted, so the row has one field too many.
    sandbox.client.post(
        "/_sandbox/listings", json={"seller_id": seller_id, "sku": "BROKEN-1", "quantity": 1, "item_name": "A\tB"}
    ).raise_for_status()
    async with running(database_url=database_url, kafka_bootstrap=kafka_bootstrap, sandbox=sandbox, topics=topics) as h:
        h.access_tokens["conn-de"] = sandbox.access_token(seller["refresh_token"])  # type: ignore[attr-defined]
        await h.connect(producer, "conn-de", region="EU", marketplace_ids=(DE,), seller_id=seller_id)
        [run] = await h.wait_for_runs(1, lane="catalog")
        records = await h.records("listing.updated", expect=2)
        async with h.api("viewer") as api:
            errors = (await api.get(f"/admin/sync-runs/{run['id']}")).json()["errors"]

    titles = {e.data.sku: e.data.title for e in decode("listing.updated", records)}
    assert titles == {"JACKE-1": "Trekking Jacke für Damen, Größe M", "LAMP-1": "Lampe 20 € \u2013 warmweiß"}
    prices = {e.data.sku: (str(e.data.price.amount), e.data.price.currency) for e in decode("listing.updated", records)}
    assert prices["JACKE-1"] == ("24.90", "EUR")
    # The run read everything (no run error); its one failed record is the broken row.
    assert run["error"] is None and run["records_failed"] == 1 and run["records_published"] == 2
    [error] = errors
    assert "fields" in error["error"] and "A\tB" not in error["error"]
