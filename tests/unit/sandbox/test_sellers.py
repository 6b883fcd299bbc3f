"""getMarketplaceParticipations lists retail marketplaces and, as Amazon does, their non-retail companions."""

from __future__ import annotations

import httpx


async def test_default_seller_sees_the_us_and_its_non_retail_marketplaces(api: httpx.AsyncClient) -> None:
    payload = (await api.get("/sellers/v1/marketplaceParticipations")).json()["payload"]
    assert [(p["marketplace"]["id"], p["participation"]["isParticipating"]) for p in payload] == [
        ("ATVPDKIKX0DER", True),
        ("A2ZV50J4W1RKNI", True),
        ("AHRY1CZE9ZY4H", True),
    ]
    assert {p["marketplace"]["countryCode"] for p in payload} == {"US"}


async def test_a_european_seller_gets_the_non_retail_ids_of_its_countries_only(api: httpx.AsyncClient) -> None:
    created = await api.post(
        "/_sandbox/sellers", json={"marketplace_ids": ["A1PA6795UKMFR9", "A1F83G8C2ARO7P", "A1805IZSGTT6HS"]}
    )
    token = await api.post(
        "/auth/o2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": created.json()["refresh_token"],
            "client_id": "id",
            "client_secret": "secret",
        },
    )
    answer = await api.get(
        "/sellers/v1/marketplaceParticipations", headers={"x-amz-access-token": token.json()["access_token"]}
    )
    ids = [p["marketplace"]["id"] for p in answer.json()["payload"]]
    # Retail first (DE, UK, NL), then the non-Amazon DE and UK ids; NL has none.
    assert ids == ["A1PA6795UKMFR9", "A1F83G8C2ARO7P", "A1805IZSGTT6HS", "A38D8NSA03LJTC", "AZMDEXL2RVFNN"]


async def test_non_retail_marketplaces_cannot_be_sold_in(api: httpx.AsyncClient) -> None:
    answer = await api.post("/_sandbox/sellers", json={"marketplace_ids": ["A2ZV50J4W1RKNI"]})
    assert answer.status_code == 422 and "unknown marketplaces" in answer.text
