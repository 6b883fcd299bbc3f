"""Does the new token belong to the seller the callback names? Asked of Amazon before anything is stored.

The callback's `selling_partner_id` travels through the browser, so it can be edited. The Listings Items
API checks its `{sellerId}` path parameter against the token's account: with a made-up SKU, an answer of
404 (no such SKU), 400 or 200 means the call passed that check, 401/403 means the token is another account's
(our app holds the Product Listing role, which getListingsItem needs, so a 403 is not a missing role).
getMarketplaceParticipations would prove only that the token works, not whose it is.
"""

from __future__ import annotations

import logging
from enum import StrEnum

import spapi
from pydantic import SecretStr

from connector_auth.deps import Deps

log = logging.getLogger(__name__)

# Never a real SKU of anyone's: the answer we want is "no such SKU for this seller".
PROBE_SKU = "connector-auth-account-check"


class SellerCheck(StrEnum):
    CONFIRMED = "confirmed"
    OTHER_ACCOUNT = "other_account"
    UNKNOWN = "unknown"  # Amazon did not say (throttled, 5xx, unreachable): nothing may be bound


async def confirm_seller(
    deps: Deps, *, region: str, marketplace_ids: list[str], selling_partner_id: str, access_token: SecretStr
) -> SellerCheck:
    client = spapi.SpApiClient(
        endpoint=deps.spapi_endpoint(region),
        selling_partner_id=selling_partner_id,
        token_source=spapi.StaticTokenSource(access_token.get_secret_value()),
        http=deps.http,
        limiter=deps.limiter,
    )
    try:
        await client.listings.get_listings_item(PROBE_SKU, marketplace_ids=marketplace_ids[:1])
    except (spapi.NotFound, spapi.InvalidInput):
        return SellerCheck.CONFIRMED
    except (spapi.Unauthorized, spapi.Forbidden):
        return SellerCheck.OTHER_ACCOUNT
    except spapi.SpApiError as exc:
        log.warning("could not confirm the seller account", extra={"error": type(exc).__name__})
        return SellerCheck.UNKNOWN
    return SellerCheck.CONFIRMED
