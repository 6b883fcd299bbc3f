"""Amazon's marketplaces and regions, from the marketplaces lib; every contract rejects a marketplace id outside it."""

from __future__ import annotations

from typing import Annotated, Any

import marketplaces
from marketplaces import MARKETPLACES, Marketplace
from pydantic import BeforeValidator, WithJsonSchema

__all__ = ["MARKETPLACES", "Marketplace", "MarketplaceId", "Region", "marketplace"]

# The published schemas state the region inline, as a string enum titled as the `region` field it types, exactly as
# they did before the lib existed (a bare enum type would move it to $defs and change every schema that uses it).
Region = Annotated[
    marketplaces.Region,
    WithJsonSchema({"enum": [r.value for r in marketplaces.Region], "title": "Region", "type": "string"}),
]


def marketplace(marketplace_id: str) -> Marketplace:
    """The lib's lookup, failing with the ValueError that pydantic reports as a validation error."""
    try:
        return marketplaces.marketplace(marketplace_id)
    except KeyError:
        # The offending id is not repeated: error text may reach logs, and input never does.
        raise ValueError("not an Amazon marketplace id") from None


def _known(value: Any) -> Any:
    if isinstance(value, str):
        marketplace(value)
    return value


MarketplaceId = Annotated[
    str,
    BeforeValidator(_known),
    WithJsonSchema({"type": "string", "enum": sorted(MARKETPLACES), "description": "Amazon marketplace id."}),
]
