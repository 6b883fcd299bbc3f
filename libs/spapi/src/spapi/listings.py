"""Listings Items 2021-08-01: `patchListingsItem` and `getListingsItem`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from .feeds import ListingsPatch
from .models import SpApiModel
from .operations import GET_LISTINGS_ITEM, PATCH_LISTINGS_ITEM
from .rate_limit import Priority

if TYPE_CHECKING:
    from .client import SpApiClient

GetIncludedData = Literal[
    "summaries",
    "attributes",
    "issues",
    "offers",
    "fulfillmentAvailability",
    "procurement",
    "relationships",
    "productTypes",
]
PatchIncludedData = Literal["identifiers", "issues"]


class ListingsItemPatchRequest(SpApiModel):
    product_type: str
    patches: list[ListingsPatch] = Field(min_length=1)


class ListingsIssue(SpApiModel):
    code: str
    message: str
    severity: str
    attribute_names: list[str] | None = None
    categories: list[str] | None = None


class ListingsItemSubmissionResponse(SpApiModel):
    sku: str
    status: str  # ACCEPTED | INVALID | VALID (VALID only in VALIDATION_PREVIEW mode)
    submission_id: str
    issues: list[ListingsIssue] | None = None
    identifiers: list[dict[str, Any]] | None = None

    @property
    def accepted(self) -> bool:
        return self.status == "ACCEPTED"


class ItemSummary(SpApiModel):
    marketplace_id: str
    asin: str | None = None
    product_type: str | None = None
    condition_type: str | None = None
    status: list[str] | None = None
    item_name: str | None = None


class FulfillmentAvailability(SpApiModel):
    fulfillment_channel_code: str
    quantity: int | None = None


class ListingsItem(SpApiModel):
    sku: str
    summaries: list[ItemSummary] | None = None
    attributes: dict[str, Any] | None = None
    issues: list[ListingsIssue] | None = None
    offers: list[dict[str, Any]] | None = None
    fulfillment_availability: list[FulfillmentAvailability] | None = None
    procurement: list[dict[str, Any]] | None = None
    relationships: list[dict[str, Any]] | None = None
    product_types: list[dict[str, Any]] | None = None


class ListingsApi:
    def __init__(self, client: SpApiClient) -> None:
        self._client = client

    async def patch_listings_item(
        self,
        sku: str,
        request: ListingsItemPatchRequest,
        *,
        marketplace_ids: Sequence[str],
        included_data: Sequence[PatchIncludedData] = (),
        mode: Literal["VALIDATION_PREVIEW"] | None = None,
        issue_locale: str | None = None,
        seller_id: str | None = None,
        priority: Priority | None = None,
    ) -> ListingsItemSubmissionResponse:
        params = {
            "marketplaceIds": list(marketplace_ids),
            "includedData": list(included_data),
            "mode": mode,
            "issueLocale": issue_locale,
        }
        response = await self._client.call(
            PATCH_LISTINGS_ITEM,
            path_params={"sellerId": seller_id or self._client.selling_partner_id, "sku": sku},
            params=params,
            json=request.to_wire(),
            priority=priority,
        )
        return ListingsItemSubmissionResponse.model_validate_json(response.content)

    async def get_listings_item(
        self,
        sku: str,
        *,
        marketplace_ids: Sequence[str],
        included_data: Sequence[GetIncludedData] = ("summaries",),
        issue_locale: str | None = None,
        seller_id: str | None = None,
        priority: Priority | None = None,
    ) -> ListingsItem:
        params = {
            "marketplaceIds": list(marketplace_ids),
            "includedData": list(included_data),
            "issueLocale": issue_locale,
        }
        response = await self._client.call(
            GET_LISTINGS_ITEM,
            path_params={"sellerId": seller_id or self._client.selling_partner_id, "sku": sku},
            params=params,
            priority=priority,
        )
        return ListingsItem.model_validate_json(response.content)
