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


_AWS_REGIONS = {Region.NA: "us-east-1", Region.EU: "eu-west-1", Region.FE: "us-west-2"}
