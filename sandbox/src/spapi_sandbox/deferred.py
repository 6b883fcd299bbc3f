"""Writes that Amazon accepts at once and applies a little later (confirmShipment, patch/putListingsItem).

A caller gets its answer (204, ACCEPTED) straight away; the change shows in reads, the ledger and ORDER_CHANGE
only `write_apply_seconds` (÷ speedup) later, so code that reads back must wait for it, as against Amazon.
Writes accepted in order are applied in that order; a reset drops those not yet applied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from spapi_sandbox.world import World


def apply_later(world: World, apply: Callable[[], None]) -> None:
    delay = world.config.scaled(world.config.write_apply_seconds)
    if delay <= 0:
        apply()
        return
    epoch = world.epoch

    async def run() -> None:
        # Equal delays keep acceptance order: asyncio wakes sleepers by deadline, first in first out.
        await asyncio.sleep(delay)
        if world.epoch == epoch:
            apply()

    if world.spawn(run()) is None:  # no event loop (domain unit tests): apply now
        apply()
