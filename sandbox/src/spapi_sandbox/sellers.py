"""Sellers API v1: the marketplaces the calling seller participates in."""

from __future__ import annotations

from typing import Any

from spapi_sandbox.state import MARKETPLACES, NON_RETAIL_MARKETPLACES, Marketplace, Seller
from spapi_sandbox.world import Call, Reply, World


def _participation(seller: Seller, m: Marketplace) -> dict[str, Any]:
    return {
        "marketplace": {
            "id": m.id,
            "name": m.name,
            "countryCode": m.country_code,
            "defaultCurrencyCode": m.currency,
            "defaultLanguageCode": m.language,
            "domainName": m.domain,
        },
        "storeName": seller.store_name,
        "participation": {"isParticipating": True, "hasSuspendedListings": False},
    }


async def get_marketplace_participations(world: World, call: Call) -> Reply:
    seller = world.state.sellers[call.seller_id]
    payload = [_participation(seller, MARKETPLACES[m]) for m in seller.marketplace_ids]
    # As on Amazon, the non-retail marketplaces of the seller's countries come too, also "participating".
    payload += [_participation(seller, m) for r in seller.marketplace_ids for m in NON_RETAIL_MARKETPLACES.get(r, [])]
    return Reply(200, {"payload": payload})
