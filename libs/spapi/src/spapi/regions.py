"""Where Amazon lives: the three SP-API regions, their hosts, and the marketplace table."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Login with Amazon serves every region from one host (the brief, §2.1/§2.2).
LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"  # noqa: S105 - a URL


class Region(StrEnum):
    NA = "NA"
    EU = "EU"
    FE = "FE"

    @property
    def endpoint(self) -> str:
        return f"https://sellingpartnerapi-{self.value.lower()}.amazon.com"

    @property
    def sandbox_endpoint(self) -> str:
        """Amazon's own static sandbox (canned responses), not our stateful one."""
        return f"https://sandbox.sellingpartnerapi-{self.value.lower()}.amazon.com"

    @property
    def aws_region(self) -> str:
        return _AWS_REGIONS[self]

    @property
    def lwa_token_url(self) -> str:
        return LWA_TOKEN_URL


_AWS_REGIONS = {Region.NA: "us-east-1", Region.EU: "eu-west-1", Region.FE: "us-west-2"}


@dataclass(frozen=True, slots=True)
class Marketplace:
    id: str
    country: str
    region: Region


def _table(*rows: tuple[str, str, Region]) -> dict[str, Marketplace]:
    return {mid: Marketplace(mid, country, region) for country, mid, region in rows}


MARKETPLACES: dict[str, Marketplace] = _table(
    ("US", "ATVPDKIKX0DER", Region.NA),
    ("CA", "A2EUQ1WTGCTBG2", Region.NA),
    ("MX", "A1AM78C64UM0Y8", Region.NA),
    ("BR", "A2Q3Y263D00KWC", Region.NA),
    ("GB", "A1F83G8C2ARO7P", Region.EU),
    ("IE", "A28R8C7NBKEWEA", Region.EU),
    ("DE", "A1PA6795UKMFR9", Region.EU),
    ("FR", "A13V1IB3VIYZZH", Region.EU),
    ("IT", "APJ6JRA9NG5V4", Region.EU),
    ("ES", "A1RKKUPIHCS9HS", Region.EU),
    ("NL", "A1805IZSGTT6HS", Region.EU),
    ("BE", "AMEN7PMS3EDWL", Region.EU),
    ("SE", "A2NODRKZP88ZB9", Region.EU),
    ("PL", "A1C3SOZRARQ6R3", Region.EU),
    ("TR", "A33AVAJ2PDY3EV", Region.EU),
    ("AE", "A2VIGQ35RCS4UG", Region.EU),
    ("SA", "A17E79C6D8DWNP", Region.EU),
    ("EG", "ARBP9OOSHTCHU", Region.EU),
    # India is served by the EU endpoint, not FE (the brief, §1).
    ("IN", "A21TJRUUN4KGV", Region.EU),
    ("ZA", "AE08WJ6YKNBMC", Region.EU),
    ("JP", "A1VC38T7YXB528", Region.FE),
    ("AU", "A39IBJ37TRP1C6", Region.FE),
    ("SG", "A19VAU5U5O7RUS", Region.FE),
)

_BY_COUNTRY = {m.country: m for m in MARKETPLACES.values()}
# Amazon and sellers say "UK"; ISO 3166 says "GB". Accept both.
_BY_COUNTRY["UK"] = _BY_COUNTRY["GB"]


def marketplace(marketplace_id: str) -> Marketplace:
    """Look up a marketplace by id; raises KeyError for ids Amazon does not publish."""
    return MARKETPLACES[marketplace_id]


def marketplace_for_country(country: str) -> Marketplace:
    return _BY_COUNTRY[country.upper()]


def marketplaces_in(region: Region) -> list[Marketplace]:
    return [m for m in MARKETPLACES.values() if m.region is region]


def endpoint_for(region: Region, override: str | None = None) -> str:
    """The base URL to call: the caller's override (e.g. its SPAPI_ENDPOINT_URL setting) wins."""
    if override:
        return override.rstrip("/")
    return region.endpoint
