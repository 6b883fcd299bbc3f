"""Where Amazon lives, as spapi sees it: the marketplaces lib's regions and table, plus Login with Amazon's host."""

from __future__ import annotations

from marketplaces import MARKETPLACES, Marketplace, Region, marketplace, marketplace_for_country, marketplaces_in

__all__ = [
    "LWA_TOKEN_URL",
    "MARKETPLACES",
    "Marketplace",
    "Region",
    "endpoint_for",
    "marketplace",
    "marketplace_for_country",
    "marketplaces_in",
]

# Login with Amazon serves every region from one host (the brief, §2.1/§2.2).
LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"  # noqa: S105 - a URL


def endpoint_for(region: Region, override: str | None = None) -> str:
    """The base URL to call: the caller's override (e.g. its SPAPI_ENDPOINT_URL setting) wins."""
    if override:
        return override.rstrip("/")
    return region.endpoint
