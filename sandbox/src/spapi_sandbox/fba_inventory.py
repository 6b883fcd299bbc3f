"""FBA Inventory v1 getInventorySummaries: Amazon's quantities of the seller's AFN listings, 50 per page."""

from __future__ import annotations

from typing import Any

from spapi_sandbox.errors import ApiError
from spapi_sandbox.state import Listing, iso
from spapi_sandbox.world import Call, Reply, World

PAGE_SIZE = 50
DETAIL_FIELDS = (
    "fulfillable",
    "inbound_working",
    "inbound_shipped",
    "inbound_receiving",
    "reserved",
    "unfulfillable",
    "researching",
)


def _summary(listing: Listing, details: bool) -> dict[str, Any]:
    q = {name: int(listing.fba.get(name, 0)) for name in DETAIL_FIELDS}
    out: dict[str, Any] = {
        "asin": listing.asin,
        "fnSku": "X00" + listing.asin[-7:],
        "sellerSku": listing.sku,
        "condition": "NewItem",
        "lastUpdatedTime": iso(listing.updated),
        "productName": listing.item_name or f"Sandbox product {listing.sku}",
        "totalQuantity": sum(q.values()),
    }
    if details:
        out["inventoryDetails"] = {
            "fulfillableQuantity": q["fulfillable"],
            "inboundWorkingQuantity": q["inbound_working"],
            "inboundShippedQuantity": q["inbound_shipped"],
            "inboundReceivingQuantity": q["inbound_receiving"],
            "reservedQuantity": {"totalReservedQuantity": q["reserved"], "pendingCustomerOrderQuantity": q["reserved"]},
            "researchingQuantity": {"totalResearchingQuantity": q["researching"]},
            "unfulfillableQuantity": {"totalUnfulfillableQuantity": q["unfulfillable"]},
        }
    return out


async def get_inventory_summaries(world: World, call: Call) -> Reply:
    params = call.params
    if params["granularityType"] != "Marketplace":
        raise ApiError.invalid_input("Invalid granularityType", details="Only Marketplace is supported.")
    marketplace_id = params["granularityId"]
    if list(params["marketplaceIds"]) != [marketplace_id]:
        raise ApiError.invalid_input("marketplaceIds must name the granularityId marketplace.")
    seller = world.state.sellers[call.seller_id]
    if marketplace_id not in seller.marketplace_ids:
        raise ApiError.invalid_input(f"Invalid marketplaceIds: {marketplace_id}")
    wanted = params.get("sellerSkus") or ([params["sellerSku"]] if params.get("sellerSku") else None)
    found = sorted(
        (
            listing
            for listing in world.state.listings.values()
            if listing.seller_id == call.seller_id
            and listing.marketplace_id == marketplace_id
            and listing.fulfillment == "AFN"
            and (wanted is None or listing.sku in wanted)
        ),
        key=lambda listing: listing.sku,
    )
    start = 0
    token = params.get("nextToken")
    if token:
        if not token.isdigit():
            raise ApiError.invalid_input("Invalid nextToken.")
        start = int(token)
    page = found[start : start + PAGE_SIZE]
    body: dict[str, Any] = {
        "payload": {
            "granularity": {"granularityType": "Marketplace", "granularityId": marketplace_id},
            "inventorySummaries": [_summary(listing, bool(params.get("details"))) for listing in page],
        }
    }
    if start + PAGE_SIZE < len(found):
        body["pagination"] = {"nextToken": str(start + PAGE_SIZE)}
    return Reply(200, body)
