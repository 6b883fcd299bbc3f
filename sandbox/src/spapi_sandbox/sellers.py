"""Sellers API v1: the marketplaces the calling seller participates in."""

from __future__ import annotations

from spapi_sandbox.state import MARKETPLACES
from spapi_sandbox.world import Call, Reply, World


async def get_marketplace_participations(world: World, call: Call) -> Reply:
    seller = world.state.sellers[call.seller_id]
    payload = []
    for marketplace_id in seller.marketplace_ids:
        m = MARKETPLACES[marketplace_id]
        payload.append(
            {
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
        )
    return Reply(200, {"payload": payload})
