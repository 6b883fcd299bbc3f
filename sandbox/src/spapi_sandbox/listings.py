"""Listings: patch semantics shared by the Listings Items API and JSON_LISTINGS_FEED, and the API handlers.

`fulfillment_availability` follows Amazon's documentation (design/spapi-brief.md §5-6):
`replace` sets the whole entry, so omitted fields (lead time) are dropped; `merge` updates only the given
fields and needs the `fulfillment_channel_code` selector. Sending DEFAULT for an FBA SKU turns it into a
merchant-fulfilled offer, as Amazon warns. Each message is all-or-nothing; accepted values go to the ledger.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import uuid
from typing import Any

from spapi_sandbox import deferred
from spapi_sandbox.errors import ApiError
from spapi_sandbox.state import Listing, iso, utcnow
from spapi_sandbox.world import Call, Reply, World

logger = logging.getLogger(__name__)

FA = "fulfillment_availability"
_FA_FIELDS = {
    "fulfillment_channel_code",
    "quantity",
    "lead_time_to_ship_max_days",
    "restock_date",
    "is_inventory_available",
}
MAX_LEAD_TIME = 30  # PRODUCT/US product type fixture: lead_time_to_ship_max_days 1..30

# Issue codes are the sandbox's own; Amazon's numeric codes are not published as a list.
CODE_INVALID_VALUE = "90000900"
CODE_UNKNOWN_SKU = "18027"
CODE_INVALID_PATH = "90000901"
CODE_CHANNEL_CHANGED = "90000902"
CODE_INVALID_MESSAGE = "4000001"


@dataclasses.dataclass(frozen=True, slots=True)
class Issue:
    code: str
    message: str
    severity: str = "ERROR"
    attribute: str | None = None

    def for_api(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "severity": self.severity,
            "categories": ["INVALID_ATTRIBUTE"] if self.attribute else [],
        }
        if self.attribute:
            issue["attributeNames"] = [self.attribute]
        return issue


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    accepted: bool
    issues: list[Issue]


def _check_availability(value: Any, *, merge: bool) -> str | None:
    """Why a fulfillment_availability value is invalid, or None."""
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        return "fulfillment_availability must hold exactly one entry."
    entry = value[0]
    unknown = set(entry) - _FA_FIELDS - {"marketplace_id"}
    if unknown:
        return f"Unknown fulfillment_availability fields: {', '.join(sorted(unknown))}."
    code = entry.get("fulfillment_channel_code")
    if not isinstance(code, str) or not code:
        return "'fulfillment_channel_code' is required" + (" as the merge selector." if merge else ".")
    if code != "DEFAULT" and not code.startswith("AMAZON_"):
        return f"Invalid fulfillment_channel_code '{code}'."
    quantity = entry.get("quantity")
    if "quantity" in entry and (isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0):
        return "'quantity' must be an integer greater than or equal to 0."
    lead = entry.get("lead_time_to_ship_max_days")
    if "lead_time_to_ship_max_days" in entry and (
        isinstance(lead, bool) or not isinstance(lead, int) or not 1 <= lead <= MAX_LEAD_TIME
    ):
        return f"'lead_time_to_ship_max_days' must be an integer from 1 to {MAX_LEAD_TIME}."
    if "is_inventory_available" in entry and not isinstance(entry["is_inventory_available"], bool):
        return "'is_inventory_available' must be a boolean."
    return None


def _set_availability(listing: Listing, entry: dict[str, Any] | None, *, merge: bool) -> list[Issue]:
    issues: list[Issue] = []
    if entry is None:
        listing.quantity = listing.handling_time = None
        listing.availability_extra = {}
        return issues
    channel = "MFN" if entry["fulfillment_channel_code"] == "DEFAULT" else "AFN"
    if channel != listing.fulfillment:
        issues.append(
            Issue(
                CODE_CHANNEL_CHANGED,
                f"The fulfillment channel of this offer changed from {listing.fulfillment} to {channel}.",
                "WARNING",
                FA,
            )
        )
        listing.fulfillment = channel
        merge = False
    extra = {k: v for k, v in entry.items() if k in ("restock_date", "is_inventory_available")}
    if merge:
        if "quantity" in entry:
            listing.quantity = entry["quantity"]
        if "lead_time_to_ship_max_days" in entry:
            listing.handling_time = entry["lead_time_to_ship_max_days"]
        listing.availability_extra.update(extra)
    else:
        listing.quantity = entry.get("quantity")
        listing.handling_time = entry.get("lead_time_to_ship_max_days")
        listing.availability_extra = extra
    return issues


def _clone(listing: Listing) -> Listing:
    # Patches replace attribute values wholesale, so copying the two dicts isolates the draft.
    return dataclasses.replace(
        listing, availability_extra=dict(listing.availability_extra), attributes=dict(listing.attributes)
    )


def _apply_patch(listing: Listing, patch: dict[str, Any]) -> list[Issue]:
    op, path = patch["op"], patch["path"]
    parts = path.split("/")
    if len(parts) != 3 or parts[0] != "" or parts[1] != "attributes" or not parts[2]:
        return [Issue(CODE_INVALID_PATH, f"Only top-level attributes can be patched, not '{path}'.")]
    name = parts[2]
    value = patch.get("value")
    if op != "delete" and value is None:
        return [Issue(CODE_INVALID_VALUE, f"'{op}' needs a value.", attribute=name)]
    if name == FA:
        if op == "delete":
            return _set_availability(listing, None, merge=False)
        problem = _check_availability(value, merge=op == "merge")
        if problem:
            return [Issue(CODE_INVALID_VALUE, problem, attribute=FA)]
        had = listing.availability_attribute() is not None
        return _set_availability(listing, dict(value[0]), merge=op == "merge" and had)
    if op == "delete":
        listing.attributes.pop(name, None)
    elif op == "merge" and isinstance(listing.attributes.get(name), list) and listing.attributes[name]:
        listing.attributes[name] = [{**listing.attributes[name][0], **value[0]}, *listing.attributes[name][1:]]
    else:
        listing.attributes[name] = copy.deepcopy(value)
    return []


def _record(
    world: World, before: Listing | None, after: Listing, sent: dict[str, Any] | None, *, source: str, ref: str
) -> None:
    """Ledger what Amazon accepted: every quantity and handling time it was sent or lost."""
    base = {"seller_id": after.seller_id, "source": source, "ref": ref, "sku": after.sku}
    if before is not None and before.fulfillment != after.fulfillment:
        world.ledger.record(kind="fulfillment_channel", value=after.fulfillment, **base)
    sent = sent or {}
    if "quantity" in sent or (before is not None and before.quantity != after.quantity):
        world.ledger.record(kind="quantity", value=after.quantity, **base)
    elif before is None and after.quantity is not None:
        world.ledger.record(kind="quantity", value=after.quantity, **base)
    if "lead_time_to_ship_max_days" in sent or (before is not None and before.handling_time != after.handling_time):
        world.ledger.record(kind="handling_time", value=after.handling_time, **base)
    elif before is None and after.handling_time is not None:
        world.ledger.record(kind="handling_time", value=after.handling_time, **base)


def _sent_availability(patches: list[dict[str, Any]]) -> dict[str, Any]:
    sent: dict[str, Any] = {}
    for patch in patches:
        if patch["path"] == f"/attributes/{FA}" and patch.get("value"):
            sent.update(patch["value"][0] if isinstance(patch["value"][0], dict) else {})
    return sent


def patch_listing(
    world: World, seller_id: str, sku: str, patches: list[dict[str, Any]], *, source: str, ref: str, commit: bool = True
) -> Outcome:
    current = world.state.listing(seller_id, sku)
    if current is None:
        return Outcome(False, [Issue(CODE_UNKNOWN_SKU, f"The SKU '{sku}' does not exist for this seller.")])
    draft = _clone(current)
    issues = [issue for patch in patches for issue in _apply_patch(draft, patch)]
    accepted = not any(i.severity == "ERROR" for i in issues)
    if accepted and commit:
        draft.updated = utcnow()
        world.state.listings[(seller_id, sku)] = draft
        _record(world, current, draft, _sent_availability(patches), source=source, ref=ref)
    return Outcome(accepted, issues)


def put_listing(
    world: World,
    seller_id: str,
    sku: str,
    product_type: str,
    attributes: dict[str, Any],
    *,
    marketplace_id: str,
    source: str,
    ref: str,
    partial: bool = False,
    commit: bool = True,
) -> Outcome:
    """UPDATE (full replace, creates the SKU) or PARTIAL_UPDATE (replaces the given attributes)."""
    current = world.state.listing(seller_id, sku)
    if partial and current is None:
        return Outcome(False, [Issue(CODE_UNKNOWN_SKU, f"The SKU '{sku}' does not exist for this seller.")])
    if current is not None:
        draft = _clone(current)
        if not partial:
            draft.attributes = {}
            _set_availability(draft, None, merge=False)
    else:
        draft = Listing(
            seller_id=seller_id,
            sku=sku,
            asin=world.state.ids.asin(),
            marketplace_id=marketplace_id,
            fulfillment="MFN",
            quantity=None,
            handling_time=None,
        )
    draft.product_type = product_type
    patches = [{"op": "replace", "path": f"/attributes/{name}", "value": value} for name, value in attributes.items()]
    issues = [issue for patch in patches for issue in _apply_patch(draft, patch)]
    accepted = not any(i.severity == "ERROR" for i in issues)
    if accepted and commit:
        draft.updated = utcnow()
        names = draft.attributes.get("item_name")
        if isinstance(names, list) and names and isinstance(names[0], dict) and "value" in names[0]:
            draft.item_name = str(names[0]["value"])
        world.state.listings[(seller_id, sku)] = draft
        _record(world, current, draft, _sent_availability(patches), source=source, ref=ref)
    return Outcome(accepted, issues)


def delete_listing(world: World, seller_id: str, sku: str, *, source: str, ref: str) -> Outcome:
    if world.state.listings.pop((seller_id, sku), None) is None:
        return Outcome(False, [Issue(CODE_UNKNOWN_SKU, f"The SKU '{sku}' does not exist for this seller.")])
    world.ledger.record(kind="listing_deleted", seller_id=seller_id, source=source, ref=ref, sku=sku)
    return Outcome(True, [])


# --- Listings Items API handlers ---------------------------------------------------------------------


def _authorize(world: World, call: Call) -> None:
    if call.params["sellerId"] != call.seller_id:
        raise ApiError.unauthorized("The sellerId does not match the selling partner of the access token.")
    seller = world.state.sellers[call.seller_id]
    unknown = [m for m in call.params["marketplaceIds"] if m not in seller.marketplace_ids]
    if unknown:
        raise ApiError.invalid_input(f"Invalid marketplaceIds: {', '.join(unknown)}")


def render_listing(listing: Listing, included: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"sku": listing.sku}
    marketplace = listing.marketplace_id
    if "summaries" in included:
        buyable = listing.fulfillment == "AFN" or (listing.quantity or 0) > 0
        out["summaries"] = [
            {
                "marketplaceId": marketplace,
                "asin": listing.asin,
                "productType": listing.product_type,
                "conditionType": "new_new",
                "status": ["BUYABLE", "DISCOVERABLE"] if buyable else ["DISCOVERABLE"],
                "itemName": listing.item_name or f"Sandbox product {listing.sku}",
                "createdDate": iso(listing.created),
                "lastUpdatedDate": iso(listing.updated),
            }
        ]
    if "attributes" in included:
        attributes = copy.deepcopy(listing.attributes)
        for name, value in listing.variation_attributes.items():
            attributes.setdefault(name, [{"value": value, "marketplace_id": marketplace}])
        availability = listing.availability_attribute()
        if availability is not None:
            attributes[FA] = [availability]
        out["attributes"] = attributes
    if "issues" in included:
        out["issues"] = []
    if "offers" in included:
        out["offers"] = []
    if "fulfillmentAvailability" in included:
        entry: dict[str, Any] = {"fulfillmentChannelCode": listing.channel_code}
        if listing.quantity is not None:
            entry["quantity"] = listing.quantity
        out["fulfillmentAvailability"] = [entry]
    if "productTypes" in included:
        out["productTypes"] = [{"marketplaceId": marketplace, "productType": listing.product_type}]
    if "relationships" in included:
        out["relationships"] = [{"marketplaceId": marketplace, "relationships": variation_relationships(listing)}]
    return out


def variation_relationships(listing: Listing, listings: dict[tuple[str, str], Listing] | None = None) -> list[Any]:
    """A child's VARIATION relationship names its parent and the family's theme; a parent's names its children."""
    if listing.parent_sku is not None:
        theme = listing.variation_theme or "/".join(a.upper() for a in listing.variation_attributes)
        return [
            {
                "type": "VARIATION",
                "parentSkus": [listing.parent_sku],
                "variationTheme": {"attributes": list(listing.variation_attributes), "theme": theme},
            }
        ]
    if listing.variation_theme is not None and listings is not None:
        seller = listing.seller_id
        children = [c.sku for c in listings.values() if c.seller_id == seller and c.parent_sku == listing.sku]
        theme = listing.variation_theme
        attributes = [part.lower() for part in theme.split("/")]
        family = {
            "type": "VARIATION",
            "childSkus": children,
            "variationTheme": {"attributes": attributes, "theme": theme},
        }
        return [family] if children else []
    return []


async def get_listings_item(world: World, call: Call) -> Reply:
    _authorize(world, call)
    listing = world.state.listing(call.seller_id, call.params["sku"])
    if listing is None:
        raise ApiError(404, "NOT_FOUND", f"SKU '{call.params['sku']}' not found in marketplace.")
    out = render_listing(listing, set(call.params.get("includedData", ["summaries"])))
    if "relationships" in out and listing.parent_sku is None:
        out["relationships"][0]["relationships"] = variation_relationships(listing, world.state.listings)
    return Reply(200, out)


def _submission(call: Call, outcome: Outcome, listing: Listing | None, preview: bool) -> dict[str, Any]:
    included = set(call.params.get("includedData", ["issues"]))
    status = ("VALID" if preview else "ACCEPTED") if outcome.accepted else "INVALID"
    body: dict[str, Any] = {"sku": call.params["sku"], "status": status, "submissionId": uuid.uuid4().hex}
    if "issues" in included:
        body["issues"] = [i.for_api() for i in outcome.issues]
    if "identifiers" in included:
        body["identifiers"] = [{"marketplaceId": listing.marketplace_id, "asin": listing.asin}] if listing else []
    return body


async def patch_listings_item(world: World, call: Call) -> Reply:
    _authorize(world, call)
    preview = call.params.get("mode") == "VALIDATION_PREVIEW"
    sku = call.params["sku"]
    patches = call.body["patches"]
    # Checked now against the listing as it is; applied (to the listing as it is then) a little later.
    outcome = patch_listing(world, call.seller_id, sku, patches, source="patchListingsItem", ref=sku, commit=False)
    if outcome.accepted and not preview:
        deferred.apply_later(
            world,
            lambda: _log_refusal(
                patch_listing(world, call.seller_id, sku, patches, source="patchListingsItem", ref=sku)
            ),
        )
    return Reply(200, _submission(call, outcome, world.state.listing(call.seller_id, sku), preview))


def _log_refusal(outcome: Outcome) -> None:
    if not outcome.accepted:
        # The listing changed between acceptance and processing; Amazon would report it as a listing issue.
        logger.info("a deferred listings write was refused when applied: %s", [i.code for i in outcome.issues])


async def put_listings_item(world: World, call: Call) -> Reply:
    _authorize(world, call)
    preview = call.params.get("mode") == "VALIDATION_PREVIEW"
    sku = call.params["sku"]

    def put(commit: bool) -> Outcome:
        return put_listing(
            world,
            call.seller_id,
            sku,
            call.body["productType"],
            call.body["attributes"],
            marketplace_id=call.params["marketplaceIds"][0],
            source="putListingsItem",
            ref=sku,
            commit=commit,
        )

    outcome = put(commit=False)
    if outcome.accepted and not preview:
        deferred.apply_later(world, lambda: _log_refusal(put(commit=True)))
    return Reply(200, _submission(call, outcome, world.state.listing(call.seller_id, sku), preview))
