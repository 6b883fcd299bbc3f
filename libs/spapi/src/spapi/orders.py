"""Orders: v2026-01-01 `searchOrders`/`getOrder` and v0 `confirmShipment`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AwareDatetime, Field, model_validator

from .models import SpApiModel, iso8601
from .operations import CONFIRM_SHIPMENT, GET_ORDER, SEARCH_ORDERS
from .rate_limit import Priority

if TYPE_CHECKING:
    from .client import SpApiClient


class IncludedData(StrEnum):
    BUYER = "BUYER"
    RECIPIENT = "RECIPIENT"
    PROCEEDS = "PROCEEDS"
    EXPENSE = "EXPENSE"
    PROMOTION = "PROMOTION"
    CANCELLATION = "CANCELLATION"
    FULFILLMENT = "FULFILLMENT"
    PACKAGES = "PACKAGES"
    TAX = "TAX"
    PAYMENT = "PAYMENT"
    FULFILLMENT_ORDERS = "FULFILLMENT_ORDERS"


class FulfillmentStatus(StrEnum):
    PENDING_AVAILABILITY = "PENDING_AVAILABILITY"
    PENDING = "PENDING"
    UNSHIPPED = "UNSHIPPED"
    PARTIALLY_SHIPPED = "PARTIALLY_SHIPPED"
    SHIPPED = "SHIPPED"
    CANCELLED = "CANCELLED"
    UNFULFILLABLE = "UNFULFILLABLE"


# Response enums stay plain strings: Amazon adds values without a new version, and one unknown
# status must not make a whole page of orders unreadable.


class Money(SpApiModel):
    amount: str
    currency_code: str


class SalesChannel(SpApiModel):
    channel_name: str
    marketplace_id: str | None = None
    marketplace_name: str | None = None


class Buyer(SpApiModel):
    buyer_name: str | None = Field(default=None, repr=False)
    buyer_email: str | None = Field(default=None, repr=False)
    buyer_company_name: str | None = Field(default=None, repr=False)
    buyer_purchase_order_number: str | None = None


class CustomerAddress(SpApiModel):
    name: str | None = Field(default=None, repr=False)
    company_name: str | None = Field(default=None, repr=False)
    address_line1: str | None = Field(default=None, repr=False)
    address_line2: str | None = Field(default=None, repr=False)
    address_line3: str | None = Field(default=None, repr=False)
    city: str | None = None
    district_or_county: str | None = None
    state_or_region: str | None = None
    municipality: str | None = None
    postal_code: str | None = Field(default=None, repr=False)
    country_code: str | None = None
    phone: str | None = Field(default=None, repr=False)
    address_type: str | None = None
    extended_fields: dict[str, Any] | None = Field(default=None, repr=False)


class Recipient(SpApiModel):
    delivery_address: CustomerAddress | None = None
    delivery_preference: dict[str, Any] | None = Field(default=None, repr=False)


class DateTimeRange(SpApiModel):
    earliest_date_time: datetime | None = None
    latest_date_time: datetime | None = None


class OrderFulfillment(SpApiModel):
    fulfillment_status: str
    fulfilled_by: str | None = None
    fulfillment_service_level: str | None = None
    ship_by_window: DateTimeRange | None = None
    deliver_by_window: DateTimeRange | None = None


class ItemProduct(SpApiModel):
    asin: str | None = None
    title: str | None = None
    seller_sku: str | None = None
    condition: dict[str, Any] | None = None
    price: dict[str, Any] | None = None
    serial_numbers: list[str] | None = None
    # customizedUrl is PII (spapi-brief.md §3.2).
    customization: dict[str, Any] | None = Field(default=None, repr=False)


class ItemCancellationRequest(SpApiModel):
    requester: str | None = None
    cancel_reason: str | None = None


class ItemCancellation(SpApiModel):
    cancellation_request: ItemCancellationRequest | None = None
    cancellation_execution: dict[str, Any] | None = None


class ItemFulfillment(SpApiModel):
    quantity_fulfilled: int | None = None
    quantity_unfulfilled: int | None = None
    picking: dict[str, Any] | None = None
    # packing.giftOption.giftMessage is PII.
    packing: dict[str, Any] | None = Field(default=None, repr=False)
    shipping: dict[str, Any] | None = None


class OrderItem(SpApiModel):
    order_item_id: str
    quantity_ordered: int
    product: ItemProduct
    cancellation: ItemCancellation | None = None
    fulfillment: ItemFulfillment | None = None


class PackageStatus(SpApiModel):
    status: str
    detailed_status: str | None = None


class PackageItem(SpApiModel):
    order_item_id: str
    quantity: int


class OrderPackage(SpApiModel):
    package_reference_id: str
    created_time: datetime | None = None
    package_status: PackageStatus | None = None
    carrier: str | None = None
    ship_time: datetime | None = None
    shipping_service: str | None = None
    tracking_number: str | None = None
    package_items: list[PackageItem] | None = None


class Order(SpApiModel):
    order_id: str
    created_time: datetime
    last_updated_time: datetime
    sales_channel: SalesChannel
    order_items: list[OrderItem]
    buyer: Buyer | None = Field(default=None, repr=False)
    recipient: Recipient | None = Field(default=None, repr=False)
    fulfillment: OrderFulfillment | None = None
    packages: list[OrderPackage] | None = None


class Pagination(SpApiModel):
    next_token: str | None = None


class SearchOrdersResponse(SpApiModel):
    orders: list[Order]
    pagination: Pagination | None = None
    last_updated_before: datetime | None = None
    created_before: datetime | None = None


class GetOrderResponse(SpApiModel):
    order: Order


class SearchOrders(SpApiModel):
    """Filters of `searchOrders`; the model requires exactly one of created_after/last_updated_after."""

    created_after: AwareDatetime | None = None
    created_before: AwareDatetime | None = None
    last_updated_after: AwareDatetime | None = None
    last_updated_before: AwareDatetime | None = None
    fulfillment_statuses: list[FulfillmentStatus] | None = None
    marketplace_ids: list[str] | None = Field(default=None, max_length=50)
    fulfilled_by: list[Literal["MERCHANT", "AMAZON"]] | None = None
    max_results_per_page: int | None = Field(default=None, ge=1, le=100)
    included_data: list[IncludedData] | None = None

    @model_validator(mode="after")
    def _one_time_filter(self) -> SearchOrders:
        if (self.created_after is None) == (self.last_updated_after is None):
            raise ValueError("give exactly one of created_after and last_updated_after")
        if self.created_after is not None and self.last_updated_before is not None:
            raise ValueError("created_after cannot be combined with last_updated_before")
        if self.last_updated_after is not None and self.created_before is not None:
            raise ValueError("last_updated_after cannot be combined with created_before")
        return self

    def query(self) -> dict[str, Any]:
        return {
            "createdAfter": _ts(self.created_after),
            "createdBefore": _ts(self.created_before),
            "lastUpdatedAfter": _ts(self.last_updated_after),
            "lastUpdatedBefore": _ts(self.last_updated_before),
            "fulfillmentStatuses": _enums(self.fulfillment_statuses),
            "marketplaceIds": self.marketplace_ids,
            "fulfilledBy": self.fulfilled_by,
            "maxResultsPerPage": self.max_results_per_page,
            "includedData": _enums(self.included_data),
        }


class ConfirmShipmentOrderItem(SpApiModel):
    order_item_id: str
    quantity: int
    transparency_codes: list[str] | None = None


class PackageDetail(SpApiModel):
    package_reference_id: str
    carrier_code: str
    carrier_name: str | None = None
    shipping_method: str | None = None
    tracking_number: str
    ship_date: AwareDatetime
    ship_from_supply_source_id: str | None = None
    order_items: list[ConfirmShipmentOrderItem]

    @model_validator(mode="after")
    def _other_needs_a_name(self) -> PackageDetail:
        if self.carrier_code == "Other" and not self.carrier_name:
            raise ValueError('carrier_name is required when carrier_code is "Other"')
        return self

    def to_wire(self) -> dict[str, Any]:
        wire = super().to_wire()
        wire["shipDate"] = iso8601(self.ship_date)
        return wire


class ConfirmShipmentRequest(SpApiModel):
    marketplace_id: str
    package_detail: PackageDetail
    cod_collection_method: Literal["DirectPayment"] | None = None

    def to_wire(self) -> dict[str, Any]:
        wire = super().to_wire()
        wire["packageDetail"] = self.package_detail.to_wire()
        return wire


def _ts(value: datetime | None) -> str | None:
    return None if value is None else iso8601(value)


def _enums(values: Sequence[Enum] | None) -> list[str] | None:
    return None if values is None else [str(v.value) for v in values]


class OrdersApi:
    """Orders API v2026-01-01 (no Restricted Data Token needed for PII)."""

    def __init__(self, client: SpApiClient) -> None:
        self._client = client

    async def search_orders_page(
        self, filters: SearchOrders, *, pagination_token: str | None = None, priority: Priority | None = None
    ) -> SearchOrdersResponse:
        # The filters go with every page too: the model still demands createdAfter or
        # lastUpdatedAfter on each request, and Amazon ties the token to the same filters.
        params = {**filters.query(), "paginationToken": pagination_token}
        response = await self._client.call(SEARCH_ORDERS, params=params, priority=priority)
        return SearchOrdersResponse.model_validate_json(response.content)

    async def search_orders_pages(
        self, filters: SearchOrders, *, priority: Priority | None = None
    ) -> AsyncIterator[SearchOrdersResponse]:
        token: str | None = None
        while True:
            page = await self.search_orders_page(filters, pagination_token=token, priority=priority)
            yield page
            token = page.pagination.next_token if page.pagination else None
            if not token:
                return

    async def search_orders(self, filters: SearchOrders, *, priority: Priority | None = None) -> list[Order]:
        """Every order matching the filters, following `pagination.nextToken` to the last page."""
        return [order async for page in self.search_orders_pages(filters, priority=priority) for order in page.orders]

    async def get_order(
        self,
        order_id: str,
        *,
        included_data: Sequence[IncludedData] = (),
        priority: Priority | None = None,
    ) -> Order:
        # IncludedData(...) also accepts the plain strings and refuses values the model does not list.
        params = {"includedData": [IncludedData(v).value for v in included_data] or None}
        response = await self._client.call(
            GET_ORDER, path_params={"orderId": order_id}, params=params, priority=priority
        )
        return GetOrderResponse.model_validate_json(response.content).order


class OrdersV0Api:
    """The parts of Orders v0 that are not deprecated and that we use."""

    def __init__(self, client: SpApiClient) -> None:
        self._client = client

    async def confirm_shipment(
        self, order_id: str, request: ConfirmShipmentRequest, *, priority: Priority | None = None
    ) -> None:
        """Confirm one package; Amazon answers 204 with no body."""
        await self._client.call(
            CONFIRM_SHIPMENT, path_params={"orderId": order_id}, json=request.to_wire(), priority=priority
        )
