"""A steady trickle of realistic orders (some Prime, some business, some multi-line) for demos and soak tests."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

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


_COLORS = ("Black", "White", "Red", "Green", "Blue", "Grey", "Olive", "Navy")
_SIZES = ("XS", "S", "M", "L", "XL", "XXL")
# Characters Windows-1252 has and ASCII lacks, so EU reports exercise the Cp1252 decoding.
_NAMES = ("Trekking Jacke für Damen", "Café mug", "Down parka \u2013 800 fill", "Sac à dos", "Zelt Größe", "Lamp 20 €")


def generate_catalog(
    world: World,
    seller_id: str,
    *,
    count: int,
    fba_share: float = 0.3,
    family_size: int = 4,
    family_share: float = 0.5,
    prefix: str = "CAT",
) -> list[Listing]:
    """`count` listings in the seller's first marketplace: variation families (a parent, then `family_size`
    children with a size/color theme) and standalone listings; a family is MFN or FBA as a whole."""
    rng = world.state.rng
    seller = world.state.sellers[seller_id]
    marketplace_id = seller.marketplace_ids[0]
    made: list[Listing] = []

    def add(listing: Listing) -> None:
        world.state.listings[(seller_id, listing.sku)] = listing
        made.append(listing)

    n = 0
    while len(made) < count:
        n += 1
        fulfillment: Any = "AFN" if rng.random() < fba_share else "MFN"
        name = f"{rng.choice(_NAMES)} {n}"
        if family_size and len(made) + family_size + 1 <= count and rng.random() < family_share:
            parent_sku = f"{prefix}-{n:06d}-P"
            theme = rng.choice(("SIZE/COLOR", "COLOR"))
            add(
                Listing(
                    seller_id=seller_id, sku=parent_sku, asin=world.state.ids.asin(), marketplace_id=marketplace_id,
                    fulfillment=fulfillment, quantity=None, handling_time=None, item_name=name, price="",
                    variation_theme=theme,
                )
            )  # fmt: skip
            for c in range(family_size):
                attributes = {"color": _COLORS[c % len(_COLORS)]}
                if theme == "SIZE/COLOR":
                    attributes = {"size": _SIZES[c % len(_SIZES)], **attributes}
                add(
                    Listing(
                        seller_id=seller_id, sku=f"{prefix}-{n:06d}-{c:02d}", asin=world.state.ids.asin(),
                        marketplace_id=marketplace_id, fulfillment=fulfillment,
                        quantity=None if fulfillment == "AFN" else rng.randint(0, 200),
                        handling_time=None if fulfillment == "AFN" else 2,
                        item_name=f"{name} {' '.join(attributes.values())}", price=f"{rng.uniform(5, 200):.2f}",
                        parent_sku=parent_sku, variation_theme=theme, variation_attributes=attributes,
                        fba=_fba(rng) if fulfillment == "AFN" else {},
                    )
                )  # fmt: skip
            continue
        add(
            Listing(
                seller_id=seller_id, sku=f"{prefix}-{n:06d}", asin=world.state.ids.asin(),
                marketplace_id=marketplace_id, fulfillment=fulfillment,
                quantity=None if fulfillment == "AFN" else rng.randint(0, 200),
                handling_time=None if fulfillment == "AFN" else 2, item_name=name,
                price=f"{rng.uniform(5, 200):.2f}", fba=_fba(rng) if fulfillment == "AFN" else {},
            )
        )  # fmt: skip
    return made


def _fba(rng: Any) -> dict[str, int]:
    return {
        "fulfillable": rng.randint(0, 300),
        "inbound_working": rng.choice((0, 0, 10)),
        "inbound_shipped": rng.choice((0, 0, 24)),
        "inbound_receiving": rng.choice((0, 6)),
        "reserved": rng.randint(0, 5),
        "unfulfillable": rng.choice((0, 0, 1)),
        "researching": 0,
    }
