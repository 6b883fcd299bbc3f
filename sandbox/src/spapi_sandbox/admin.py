"""Sandbox-only endpoints under /_sandbox/: arrange state, inject faults, and inspect what Amazon saw.

Nothing here exists at Amazon; production code must never call it. Changes made here are not in the ledger,
which records only what arrived through the SP-API.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import AwareDatetime, BaseModel, Field

from spapi_sandbox import generator, orders
from spapi_sandbox.faults import Fault
from spapi_sandbox.listings import render_listing
from spapi_sandbox.state import (
    DEFAULT_REFRESH_TOKEN,
    DEFAULT_SELLER_ID,
    MARKETPLACES,
    PII_ROLES,
    Listing,
    Order,
    Seller,
    iso,
    utcnow,
)
from spapi_sandbox.world import World


class SellerIn(BaseModel):
    selling_partner_id: str | None = None
    region: Literal["NA", "EU", "FE"] | None = None
    marketplace_ids: list[str] = Field(min_length=1)
    store_name: str | None = None
    # The restricted roles behind the buyer PII Amazon returns; None keeps them all.
    pii_roles: list[Literal["DIRECT_TO_CONSUMER_DELIVERY", "TAX_INVOICING"]] | None = None


class ListingIn(BaseModel):
    seller_id: str = DEFAULT_SELLER_ID
    sku: str = Field(min_length=1)
    asin: str | None = None
    marketplace_id: str | None = None
    fulfillment: Literal["MFN", "AFN"] = "MFN"
    quantity: int | None = Field(default=0, ge=0)
    handling_time: int | None = Field(default=None, ge=1, le=30)
    product_type: str = "PRODUCT"
    item_name: str | None = None
    price: str = Field(default="19.99", pattern=r"^\d+(\.\d{1,2})?$")
    parent_sku: str | None = None
    variation_theme: str | None = None
    variation_attributes: dict[str, str] = Field(default_factory=dict)
    fba: dict[str, int] = Field(default_factory=dict)


class CatalogIn(BaseModel):
    seller_id: str = DEFAULT_SELLER_ID
    count: int = Field(ge=1, le=100_000)
    fba_share: float = Field(default=0.3, ge=0, le=1)
    family_size: int = Field(default=4, ge=0, le=50)
    family_share: float = Field(default=0.5, ge=0, le=1)
    prefix: str = "CAT"


class ItemIn(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int = Field(default=1, ge=1)
    price: str | None = Field(default=None, pattern=r"^\d+(\.\d{1,2})?$")
    order_item_id: str | None = Field(default=None, pattern=r"^\d{1,20}$")
    # Line totals; None = the marketplace's usual shipping (free with Prime) and tax rate.
    shipping: str | None = Field(default=None, pattern=r"^\d+(\.\d{1,2})?$")
    tax_rate: str | None = Field(default=None, pattern=r"^0(\.\d{1,4})?$")
    discount: str = Field(default="0.00", pattern=r"^\d+(\.\d{1,2})?$")
    shipping_discount: str = Field(default="0.00", pattern=r"^\d+(\.\d{1,2})?$")


class OrderIn(BaseModel):
    seller_id: str = DEFAULT_SELLER_ID
    marketplace_id: str | None = None
    status: Literal["Pending", "Unshipped", "PendingAvailability"] = "Unshipped"
    is_prime: bool = False
    is_business: bool = False
    fulfillment_channel: Literal["MFN", "AFN"] | None = None
    ship_service_level: str = "Standard"
    items: list[ItemIn] = Field(min_length=1)
    buyer: dict[str, str] | None = None
    address: dict[str, str] | None = None
    amazon_order_id: str | None = Field(default=None, pattern=r"^\d{3}-\d{7}-\d{7}$")
    latest_delivery: AwareDatetime | None = None


class TransitionIn(BaseModel):
    status: Literal["Pending", "Unshipped", "Shipped", "Canceled"] | None = None
    buyer_cancel_request: bool = False
    reason: str = "Buyer Requested Cancel"


class FaultIn(BaseModel):
    operation: str = "*"
    error_rate: float | None = Field(default=None, ge=0, le=1)
    status: Literal[429, 500, 503] | None = None
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    latency_after_ms: int = Field(default=0, ge=0, le=60_000)
    count: int | None = Field(default=None, ge=1)
    token: Literal["expired", "revoked"] | None = None
    feed_outcome: Literal["FATAL"] | None = None
    seller_id: str | None = None


class DestinationIn(BaseModel):
    url: str | None


class GeneratorIn(BaseModel):
    orders_per_minute: float = Field(ge=0)


def seller_view(world: World, seller: Seller, refresh_token: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "selling_partner_id": seller.selling_partner_id,
        "region": seller.region,
        "marketplace_ids": seller.marketplace_ids,
        "store_name": seller.store_name,
        "pii_roles": sorted(seller.pii_roles),
    }
    if refresh_token:
        view["refresh_token"] = refresh_token
    return view


def listing_view(listing: Listing) -> dict[str, Any]:
    return {
        "seller_id": listing.seller_id,
        "sku": listing.sku,
        "asin": listing.asin,
        "marketplace_id": listing.marketplace_id,
        "fulfillment": listing.fulfillment,
        "quantity": listing.quantity,
        "handling_time": listing.handling_time,
        "product_type": listing.product_type,
        "item_name": listing.item_name,
        "price": listing.price,
        "parent_sku": listing.parent_sku,
        "variation_theme": listing.variation_theme,
        "variation_attributes": listing.variation_attributes,
        "fba": listing.fba,
        "fulfillment_availability": listing.availability_attribute(),
        "attributes": render_listing(listing, {"attributes"})["attributes"],
        "last_updated": iso(listing.updated),
    }


def order_view(world: World, order: Order) -> dict[str, Any]:
    return {
        "AmazonOrderId": order.order_id,
        "OrderStatus": order.status,
        "seller_id": order.seller_id,
        "MarketplaceId": order.marketplace_id,
        "FulfillmentChannel": order.fulfillment_channel,
        "IsPrime": order.is_prime,
        "IsBusinessOrder": order.is_business,
        "ShipServiceLevel": order.ship_service_level,
        "PurchaseDate": iso(order.created),
        "LastUpdateDate": iso(order.last_updated),
        # Tests wait on this instead of sleeping out Amazon's two minutes; it asks searchOrders' own rule.
        "searchable": orders.searchable(world, order),
        "items": [
            {
                "OrderItemId": i.order_item_id,
                "SellerSKU": i.sku,
                "ASIN": i.asin,
                "QuantityOrdered": i.quantity,
                "QuantityShipped": i.quantity_shipped,
                "QuantityCancelled": i.quantity_cancelled,
                "IsBuyerRequestedCancel": i.buyer_cancel_requested,
            }
            for i in order.items
        ],
        "packages": [
            {
                "packageReferenceId": p.package_reference_id,
                "carrierCode": p.carrier_code,
                "trackingNumber": p.tracking_number,
                "items": p.items,
            }
            for p in order.packages
        ],
    }


def router(world: World) -> APIRouter:
    api = APIRouter(prefix="/_sandbox")

    def _seller(seller_id: str) -> Seller:
        seller = world.state.sellers.get(seller_id)
        if seller is None:
            raise HTTPException(404, f"unknown seller {seller_id}")
        return seller

    def _order(order_id: str) -> Order:
        order = world.state.orders.get(order_id)
        if order is None:
            raise HTTPException(404, f"unknown order {order_id}")
        return order

    @api.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "violations": list(world.violations),
            "speedup": world.config.speedup,
            "search_horizon": iso(orders.search_horizon(world)),
        }

    @api.post("/reset")
    async def reset() -> dict[str, Any]:
        world.reset()
        seller = world.state.sellers[DEFAULT_SELLER_ID]
        return {"status": "reset", "default_seller": seller_view(world, seller, DEFAULT_REFRESH_TOKEN)}

    @api.post("/sellers", status_code=201)
    async def create_seller(body: SellerIn) -> dict[str, Any]:
        unknown = [m for m in body.marketplace_ids if m not in MARKETPLACES]
        if unknown:
            raise HTTPException(422, f"unknown marketplaces {unknown}")
        region = body.region or MARKETPLACES[body.marketplace_ids[0]].region
        seller_id = body.selling_partner_id or world.state.ids.seller()
        existing = world.state.sellers.get(seller_id)
        seller = world.state.add_seller(
            Seller(
                selling_partner_id=seller_id,
                region=region,
                marketplace_ids=list(body.marketplace_ids),
                store_name=body.store_name or (existing.store_name if existing else f"Store {seller_id}"),
                pii_roles=frozenset(PII_ROLES if body.pii_roles is None else body.pii_roles),
            )
        )
        return seller_view(world, seller, world.tokens.refresh_token_for(seller_id))

    @api.get("/sellers/{seller_id}")
    async def get_seller(seller_id: str) -> dict[str, Any]:
        return seller_view(world, _seller(seller_id))

    @api.post("/listings", status_code=201)
    async def create_listing(body: ListingIn) -> dict[str, Any]:
        seller = _seller(body.seller_id)
        marketplace_id = body.marketplace_id or seller.marketplace_ids[0]
        if marketplace_id not in seller.marketplace_ids:
            raise HTTPException(422, f"seller does not participate in {marketplace_id}")
        listing = Listing(
            seller_id=seller.selling_partner_id,
            sku=body.sku,
            asin=body.asin or world.state.ids.asin(),
            marketplace_id=marketplace_id,
            fulfillment=body.fulfillment,
            quantity=body.quantity,
            handling_time=body.handling_time,
            product_type=body.product_type,
            item_name=body.item_name or "",
            price=body.price,
            parent_sku=body.parent_sku,
            variation_theme=body.variation_theme,
            variation_attributes=dict(body.variation_attributes),
            fba=dict(body.fba),
        )
        earlier = world.state.listing(listing.seller_id, listing.sku)
        if earlier is not None:
            listing.created = earlier.created  # posting a known SKU again changes it on "Amazon"
        world.state.listings[(listing.seller_id, listing.sku)] = listing
        return listing_view(listing)

    @api.get("/catalog/{seller_id}")
    async def catalog(seller_id: str) -> list[dict[str, Any]]:
        return [listing_view(x) for x in world.state.listings.values() if x.seller_id == seller_id]

    @api.delete("/listings/{seller_id}/{sku:path}", status_code=204)
    async def remove_listing(seller_id: str, sku: str) -> None:
        if world.state.listings.pop((seller_id, sku), None) is None:
            raise HTTPException(404, "unknown listing")

    @api.post("/generator/catalog", status_code=201)
    async def generate_catalog(body: CatalogIn) -> dict[str, Any]:
        seller = _seller(body.seller_id)
        made = generator.generate_catalog(
            world,
            seller.selling_partner_id,
            count=body.count,
            fba_share=body.fba_share,
            family_size=body.family_size,
            family_share=body.family_share,
            prefix=body.prefix,
        )
        return {
            "count": len(made),
            "fba": sum(1 for m in made if m.fulfillment == "AFN"),
            "parents": sum(1 for m in made if m.parent_sku is None and m.variation_theme is not None),
            "children": sum(1 for m in made if m.parent_sku is not None),
        }

    @api.get("/listings/{seller_id}/{sku:path}")
    async def get_listing(seller_id: str, sku: str) -> dict[str, Any]:
        listing = world.state.listing(seller_id, sku)
        if listing is None:
            raise HTTPException(404, "unknown listing")
        return listing_view(listing)

    @api.post("/orders", status_code=201)
    async def create_order(body: OrderIn) -> dict[str, Any]:
        try:
            order = orders.create_order(
                world,
                orders.NewOrder(
                    seller_id=body.seller_id,
                    marketplace_id=body.marketplace_id,
                    status=body.status,
                    is_prime=body.is_prime,
                    is_business=body.is_business,
                    fulfillment_channel=body.fulfillment_channel,
                    ship_service_level=body.ship_service_level,
                    items=[
                        orders.NewItem(
                            sku=i.sku,
                            quantity=i.quantity,
                            price=i.price,
                            order_item_id=i.order_item_id,
                            shipping=i.shipping,
                            tax_rate=i.tax_rate,
                            discount=i.discount,
                            shipping_discount=i.shipping_discount,
                        )
                        for i in body.items
                    ],
                    buyer=body.buyer,
                    address=body.address,
                    order_id=body.amazon_order_id,
                    latest_delivery=body.latest_delivery,
                ),
            )
        except orders.OrderRejected as error:
            raise HTTPException(422, str(error)) from None
        return order_view(world, order)

    @api.get("/orders/{order_id}")
    async def get_order(order_id: str) -> dict[str, Any]:
        return order_view(world, _order(order_id))

    @api.post("/orders/{order_id}/transition")
    async def transition(order_id: str, body: TransitionIn) -> dict[str, Any]:
        order = _order(order_id)
        try:
            if body.buyer_cancel_request:
                orders.request_cancellation(world, order, body.reason)
            if body.status is not None:
                orders.transition(world, order, body.status)
        except orders.OrderRejected as error:
            raise HTTPException(409, str(error)) from None
        return order_view(world, order)

    @api.post("/generator")
    async def set_generator(body: GeneratorIn) -> dict[str, Any]:
        world.orders_per_minute = body.orders_per_minute
        return {"orders_per_minute": world.orders_per_minute}

    @api.post("/generator/orders", status_code=201)
    async def generate_orders(count: int = 1) -> list[dict[str, Any]]:
        before = set(world.state.orders)
        for _ in range(max(1, min(count, 1000))):
            generator.generate_one(world)
        return [order_view(world, o) for i, o in world.state.orders.items() if i not in before]

    @api.post("/faults")
    async def add_fault(body: FaultIn) -> dict[str, Any]:
        match body.token:
            case "expired":
                world.tokens.expire_all(body.seller_id)
            case "revoked":
                world.tokens.revoke(body.seller_id)
        if body.feed_outcome == "FATAL":
            world.faults.fail_feeds(body.count)
        if body.status is not None or body.latency_ms or body.latency_after_ms:
            rate = body.error_rate if body.error_rate is not None else 1.0
            world.faults.add(
                Fault(
                    operation=body.operation,
                    error_rate=rate,
                    status=body.status,
                    latency_ms=body.latency_ms,
                    latency_after_ms=body.latency_after_ms,
                    count=body.count,
                )
            )
        return {"faults": world.faults.describe()}

    @api.delete("/faults")
    async def clear_faults() -> dict[str, Any]:
        world.faults.clear()
        return {"faults": []}

    @api.get("/ledger")
    async def ledger(
        seller_id: str | None = None, sku: str | None = None, kind: str | None = None, order_id: str | None = None
    ) -> list[dict[str, Any]]:
        return [e.as_dict() for e in world.ledger.query(seller_id=seller_id, sku=sku, kind=kind, order_id=order_id)]

    @api.get("/requests")
    async def requests(
        operation: str | None = None, status: int | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        records = [
            {
                "at": r.at,
                "method": r.method,
                "path": r.path,
                "operation": r.operation,
                "seller_id": r.seller_id,
                "status": r.status,
            }
            for r in world.state.requests
            if (operation is None or r.operation == operation) and (status is None or r.status == status)
        ]
        return records[-limit:]

    @api.post("/notifications/destination")
    async def set_destination(body: DestinationIn) -> dict[str, Any]:
        world.notifier.url = body.url
        return {"url": body.url}

    @api.post("/notifications/sqs-endpoint")
    async def set_sqs_endpoint(body: DestinationIn) -> dict[str, Any]:
        world.notifier.sqs_endpoint = body.url
        return {"url": body.url}

    @api.get("/notifications")
    async def notifications(order_id: str | None = None) -> dict[str, Any]:
        sent = [
            n
            for n in world.notifier.sent
            if order_id is None or n["Payload"]["OrderChangeNotification"]["AmazonOrderId"] == order_id
        ]
        return {
            "url": world.notifier.url,
            "delivered": world.notifier.delivered,
            "failed": world.notifier.failed,
            "sqs_endpoint": world.notifier.sqs_endpoint,
            "sqs_delivered": world.notifier.sqs_delivered,
            "sqs_failed": world.notifier.sqs_failed,
            "destinations": [dataclasses.asdict(d) for d in world.notifier.destinations.values()],
            "subscriptions": [dataclasses.asdict(s) for s in world.notifier.subscriptions.values()],
            "sent": sent,
        }

    @api.get("/time")
    async def now() -> dict[str, str]:
        return {"now": iso(utcnow())}

    return api
