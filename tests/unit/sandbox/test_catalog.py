"""The sandbox's catalog side: generated variation families, their relationships, FBA summaries (model-validated)."""

from __future__ import annotations

import httpx
from spapi_sandbox import reports

SELLER = "A1SANDBOXSELLER"
US = "ATVPDKIKX0DER"


async def _catalog(api: httpx.AsyncClient, **body: object) -> dict:
    answer = await api.post("/_sandbox/generator/catalog", json={"seller_id": SELLER, **body})
    assert answer.status_code == 201
    return answer.json()


async def test_generated_catalog_has_families_and_fba_listings(api: httpx.AsyncClient) -> None:
    made = await _catalog(api, count=200, fba_share=0.5, family_size=3, family_share=0.6)
    listings = (await api.get(f"/_sandbox/catalog/{SELLER}")).json()

    assert made["count"] == len(listings) == 200
    assert made["fba"] == sum(1 for x in listings if x["fulfillment"] == "AFN") > 0
    children = [x for x in listings if x["parent_sku"]]
    parents = {x["sku"]: x for x in listings if x["variation_theme"] and not x["parent_sku"]}
    assert len(children) == 3 * len(parents) == made["children"] > 0
    for child in children:
        parent = parents[child["parent_sku"]]
        assert child["fulfillment"] == parent["fulfillment"] and child["variation_theme"] == parent["variation_theme"]
        assert set(child["variation_attributes"]) == {p.lower() for p in parent["variation_theme"].split("/")}


async def test_relationships_name_the_parent_and_the_children(api: httpx.AsyncClient) -> None:
    await _catalog(api, count=20, family_size=3, family_share=1.0)
    listings = (await api.get(f"/_sandbox/catalog/{SELLER}")).json()
    child = next(x for x in listings if x["parent_sku"])
    params = {"marketplaceIds": US, "includedData": "summaries,attributes,relationships"}

    item = (await api.get(f"/listings/2021-08-01/items/{SELLER}/{child['sku']}", params=params)).json()
    parent = (await api.get(f"/listings/2021-08-01/items/{SELLER}/{child['parent_sku']}", params=params)).json()

    [relation] = item["relationships"][0]["relationships"]
    assert relation["parentSkus"] == [child["parent_sku"]] and relation["type"] == "VARIATION"
    assert relation["variationTheme"]["attributes"] == list(child["variation_attributes"])
    for name, value in child["variation_attributes"].items():
        assert item["attributes"][name][0]["value"] == value
    [family] = parent["relationships"][0]["relationships"]
    assert child["sku"] in family["childSkus"] and len(family["childSkus"]) == 3
    assert api.world.violations == []  # type: ignore[attr-defined]


async def test_inventory_summaries_page_through_fba_listings_only(api: httpx.AsyncClient) -> None:
    await api.post("/_sandbox/listings", json={"seller_id": SELLER, "sku": "MFN-1", "quantity": 3})
    for n in range(60):
        body = {"seller_id": SELLER, "sku": f"FBA-{n:02d}", "fulfillment": "AFN", "quantity": None,
                "fba": {"fulfillable": n, "inbound_shipped": 2, "reserved": 1}}  # fmt: skip
        assert (await api.post("/_sandbox/listings", json=body)).status_code == 201
    params = {"granularityType": "Marketplace", "granularityId": US, "marketplaceIds": US, "details": "true"}

    first = (await api.get("/fba/inventory/v1/summaries", params=params)).json()
    token = first["pagination"]["nextToken"]
    second = (await api.get("/fba/inventory/v1/summaries", params={**params, "nextToken": token})).json()

    skus = [s["sellerSku"] for page in (first, second) for s in page["payload"]["inventorySummaries"]]
    assert skus == [f"FBA-{n:02d}" for n in range(60)] and "pagination" not in second
    seven = next(s for s in first["payload"]["inventorySummaries"] if s["sellerSku"] == "FBA-07")
    assert seven["inventoryDetails"]["fulfillableQuantity"] == 7 and seven["totalQuantity"] == 10
    assert api.world.violations == []  # type: ignore[attr-defined]


async def test_inventory_summaries_refuse_another_granularity(api: httpx.AsyncClient) -> None:
    params = {"granularityType": "Country", "granularityId": US, "marketplaceIds": US}

    answer = await api.get("/fba/inventory/v1/summaries", params=params)

    assert answer.status_code == 400 and "granularityType" in answer.text


async def test_listings_report_carries_prices_and_eu_files_are_cp1252(api: httpx.AsyncClient) -> None:
    seller = (await api.post("/_sandbox/sellers", json={"marketplace_ids": ["A1PA6795UKMFR9"], "region": "EU"})).json()
    await api.post("/_sandbox/listings", json={"seller_id": seller["selling_partner_id"], "sku": "DE-1", "quantity": 2,
                                               "item_name": "Größe €", "price": "24.90"})  # fmt: skip

    text = reports.listings_tsv(api.world, seller["selling_partner_id"], ["A1PA6795UKMFR9"])  # type: ignore[attr-defined]
    header, row = text.splitlines()
    values = dict(zip(header.split("\t"), row.split("\t"), strict=True))
    assert (values["seller-sku"], values["price"], values["item-name"]) == ("DE-1", "24.90", "Größe €")
    assert reports.report_charset(["A1PA6795UKMFR9"]) == "Cp1252"
