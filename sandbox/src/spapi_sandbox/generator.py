"""A steady trickle of realistic orders (some Prime, some business, some multi-line) for demos and soak tests."""

from __future__ import annotations

import asyncio
import logging

from spapi_sandbox import orders
from spapi_sandbox.state import Listing
from spapi_sandbox.world import World

logger = logging.getLogger(__name__)

PRIME_SHARE, BUSINESS_SHARE, MULTI_LINE_SHARE, PENDING_SHARE = 0.3, 0.15, 0.25, 0.5


def _catalog(world: World, seller_id: str) -> list[Listing]:
    found = [listing for listing in world.state.listings.values() if listing.seller_id == seller_id]
    if found:
        return found
    seller = world.state.sellers[seller_id]
    for n in range(1, 6):
        listing = Listing(
            seller_id=seller_id,
            sku=f"GEN-SKU-{n:03d}",
            asin=world.state.ids.asin(),
            marketplace_id=seller.marketplace_ids[0],
            fulfillment="MFN",
            quantity=1000,
            handling_time=2,
        )
        world.state.listings[(seller_id, listing.sku)] = listing
    return _catalog(world, seller_id)


def generate_one(world: World) -> None:
    rng = world.state.rng
    seller_id = rng.choice(sorted(world.state.sellers))
    catalog = _catalog(world, seller_id)
    mfn = [listing for listing in catalog if listing.fulfillment == "MFN"] or catalog
    multi_line = rng.random() < MULTI_LINE_SHARE
    lines = rng.sample(mfn, k=min(len(mfn), rng.randint(2, 3))) if multi_line else [rng.choice(mfn)]
    pending = rng.random() < PENDING_SHARE
    prime = rng.random() < PRIME_SHARE
    order = orders.create_order(
        world,
        orders.NewOrder(
            seller_id=seller_id,
            status="Pending" if pending else "Unshipped",
            is_prime=prime,
            is_business=rng.random() < BUSINESS_SHARE,
            fulfillment_channel=lines[0].fulfillment,
            ship_service_level="NextDay" if prime and rng.random() < 0.3 else "Standard",
            items=[
                orders.NewItem(
                    sku=listing.sku, quantity=rng.choice((1, 1, 1, 2, 3)), price=f"{rng.uniform(5, 120):.2f}"
                )
                for listing in lines
            ],
        ),
    )
    if pending:
        world.spawn(_release(world, order.order_id, world.epoch))


async def _release(world: World, order_id: str, epoch: int) -> None:
    await asyncio.sleep(world.config.scaled(world.config.pending_seconds))
    order = world.state.orders.get(order_id)
    if world.epoch == epoch and order is not None and order.status == "Pending":
        orders.transition(world, order, "Unshipped")


async def run(world: World) -> None:
    while True:
        rate = world.orders_per_minute
        if rate <= 0:
            await asyncio.sleep(0.5)
            continue
        await asyncio.sleep(world.state.rng.expovariate(rate / 60))
        if world.orders_per_minute > 0:
            try:
                generate_one(world)
            except Exception:
                logger.exception("order generator failed")
