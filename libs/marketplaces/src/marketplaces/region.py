"""Amazon's three selling regions and the hosts that serve each of them."""

from __future__ import annotations

from enum import StrEnum


class Region(StrEnum):
    """One seller authorization covers one region; every SP-API call goes to that region's endpoint."""

    NA = "NA"
    EU = "EU"
    FE = "FE"

    @property
    def endpoint(self) -> str:
        """The SP-API production endpoint (spapi-brief §1)."""
        return f"https://sellingpartnerapi-{self.value.lower()}.amazon.com"

    @property
    def sandbox_endpoint(self) -> str:
        """Amazon's own static sandbox (canned responses), not our stateful one."""
        return f"https://sandbox.sellingpartnerapi-{self.value.lower()}.amazon.com"

    @property
    def aws_region(self) -> str:
        """The AWS region SigV4 signed for, before Amazon dropped the signature requirement."""
        return _AWS_REGIONS[self]

    @property
    def seller_central(self) -> str:
        """Where a seller of this region signs in, and so where the consent page lives."""
        return _SELLER_CENTRAL[self]


_AWS_REGIONS = {Region.NA: "us-east-1", Region.EU: "eu-west-1", Region.FE: "us-west-2"}

# One host per region is enough for the consent page: Amazon sends a seller on to their own marketplace's.
_SELLER_CENTRAL = {
    Region.NA: "https://sellercentral.amazon.com",
    Region.EU: "https://sellercentral-europe.amazon.com",
    Region.FE: "https://sellercentral.amazon.co.jp",
}
