"""fulfillment_availability: replace sets the whole entry, merge only the given fields (brief §5-6)."""

from __future__ import annotations

from typing import Any

import pytest
from spapi_sandbox.listings import patch_listing
from spapi_sandbox.state import Listing
from spapi_sandbox.world import World
from testkit import eventually

SELLER = "A1SANDBOXSELLER"
PATH = "/attributes/fulfillment_availability"


@pytest.fixture
def listing(world: World) -> Listing:
    listing = Listing(
        seller_id=SELLER,
        sku="SKU-1",
        asin="B000000001",
        marketplace_id="ATVPDKIKX0DER",
        fulfillment="MFN",
        quantity=10,
        handling_time=3,
    )
    world.state.listings[(SELLER, "SKU-1")] = listing
    return listing


def _patch(world: World, op: str, entry: dict[str, Any], sku: str = "SKU-1") -> Any:
    return patch_listing(world, SELLER, sku, [{"op": op, "path": PATH, "value": [entry]}], source="test", ref="r")


def test_merge_changes_quantity_and_keeps_handling_time(world: World, listing: Listing) -> None:
    outcome = _patch(world, "merge", {"fulfillment_channel_code": "DEFAULT", "quantity": 7})
    assert outcome.accepted
    stored = world.state.listing(SELLER, "SKU-1")
    assert (stored.quantity, stored.handling_time) == (7, 3)
    assert [(e.kind, e.value) for e in world.ledger.query()] == [("quantity", 7)]


def test_replace_drops_fields_it_does_not_send(world: World, listing: Listing) -> None:
    outcome = _patch(world, "replace", {"fulfillment_channel_code": "DEFAULT", "quantity": 7})
    assert outcome.accepted
    stored = world.state.listing(SELLER, "SKU-1")
    assert (stored.quantity, stored.handling_time) == (7, None)
    assert [(e.kind, e.value) for e in world.ledger.query()] == [("quantity", 7), ("handling_time", None)]


def test_merge_needs_the_channel_selector(world: World, listing: Listing) -> None:
    outcome = _patch(world, "merge", {"quantity": 7})
    assert not outcome.accepted
    assert "fulfillment_channel_code" in outcome.issues[0].message
    assert world.state.listing(SELLER, "SKU-1").quantity == 10
    assert world.ledger.query() == []


@pytest.mark.parametrize(
    "entry",
    [
        {"fulfillment_channel_code": "DEFAULT", "quantity": -1},
        {"fulfillment_channel_code": "DEFAULT", "quantity": "7"},
        {"fulfillment_channel_code": "DEFAULT", "lead_time_to_ship_max_days": 0},
        {"fulfillment_channel_code": "DEFAULT", "lead_time_to_ship_max_days": 31},
        {"fulfillment_channel_code": "WAREHOUSE_9", "quantity": 1},
        {"fulfillment_channel_code": "DEFAULT", "qty": 1},
    ],
)
def test_invalid_values_are_refused_with_an_issue(world: World, listing: Listing, entry: dict[str, Any]) -> None:
    outcome = _patch(world, "replace", entry)
    assert not outcome.accepted
    assert outcome.issues[0].severity == "ERROR"
    assert outcome.issues[0].attribute == "fulfillment_availability"


def test_a_message_is_all_or_nothing(world: World, listing: Listing) -> None:
    patches = [
        {"op": "merge", "path": PATH, "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 1}]},
        {"op": "replace", "path": "/attributes/item/deeper", "value": [{"x": 1}]},
    ]
    outcome = patch_listing(world, SELLER, "SKU-1", patches, source="test", ref="r")
    assert not outcome.accepted
    assert world.state.listing(SELLER, "SKU-1").quantity == 10


def test_unknown_sku_is_an_issue_not_a_new_listing(world: World) -> None:
    outcome = _patch(world, "merge", {"fulfillment_channel_code": "DEFAULT", "quantity": 1}, sku="NOPE")
    assert not outcome.accepted
    assert "NOPE" in outcome.issues[0].message
    assert world.state.listing(SELLER, "NOPE") is None


def test_default_channel_on_an_fba_sku_turns_it_merchant_fulfilled(world: World, listing: Listing) -> None:
    listing.fulfillment, listing.quantity, listing.handling_time = "AFN", 40, None
    outcome = _patch(world, "merge", {"fulfillment_channel_code": "DEFAULT", "quantity": 5})
    assert outcome.accepted
    assert outcome.issues[0].severity == "WARNING"
    assert world.state.listing(SELLER, "SKU-1").fulfillment == "MFN"
    assert ("fulfillment_channel", "MFN") in [(e.kind, e.value) for e in world.ledger.query()]


def test_same_quantity_twice_is_seen_twice(world: World, listing: Listing) -> None:
    _patch(world, "merge", {"fulfillment_channel_code": "DEFAULT", "quantity": 7})
    _patch(world, "merge", {"fulfillment_channel_code": "DEFAULT", "quantity": 7})
    assert [e.value for e in world.ledger.query(sku="SKU-1", kind="quantity")] == [7, 7]


def test_preview_changes_nothing(world: World, listing: Listing) -> None:
    outcome = patch_listing(
        world,
        SELLER,
        "SKU-1",
        [{"op": "merge", "path": PATH, "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 1}]}],
        source="test",
        ref="r",
        commit=False,
    )
    assert outcome.accepted
    assert world.state.listing(SELLER, "SKU-1").quantity == 10
    assert world.ledger.query() == []


async def test_patch_and_get_over_the_api(api: Any) -> None:
    await api.post("/_sandbox/listings", json={"sku": "SKU/1", "quantity": 2, "handling_time": 4})
    path = f"/listings/2021-08-01/items/{SELLER}/SKU%2F1"
    params = {"marketplaceIds": "ATVPDKIKX0DER"}
    patched = await api.patch(
        path,
        params=params,
        json={
            "productType": "PRODUCT",
            "patches": [
                {"op": "merge", "path": PATH, "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 9}]}
            ],
        },
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == "ACCEPTED"
    assert patched.headers["x-amzn-RateLimit-Limit"] == "5"
    read = {**params, "includedData": "attributes,fulfillmentAvailability"}
    # Accepted is not applied: a read straight after still shows the old quantity, as on Amazon.
    assert (await api.get(path, params=read)).json()["fulfillmentAvailability"][0]["quantity"] == 2

    async def applied() -> bool:  # watched on the sandbox's state: polling getListingsItem would spend its burst
        listing = api.world.state.listing(SELLER, "SKU/1")
        return listing is not None and listing.quantity == 9

    await eventually(applied, timeout=5, interval=0.01)
    got = (await api.get(path, params=read)).json()
    assert got["fulfillmentAvailability"] == [{"fulfillmentChannelCode": "DEFAULT", "quantity": 9}]
    assert got["attributes"]["fulfillment_availability"][0]["lead_time_to_ship_max_days"] == 4
    other_seller = await api.get("/listings/2021-08-01/items/AOTHER/SKU%2F1", params=params)
    assert other_seller.status_code == 403
    missing = await api.get(f"/listings/2021-08-01/items/{SELLER}/NOPE", params=params)
    assert missing.status_code == 404
