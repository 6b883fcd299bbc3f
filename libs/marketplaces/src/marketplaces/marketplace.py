"""The marketplaces Amazon publishes ids for, each with its country, currency and region."""

from __future__ import annotations

from dataclasses import dataclass

from marketplaces.region import Region


@dataclass(frozen=True, slots=True, kw_only=True)
class Marketplace:
    id: str
    country: str  # ISO 3166-1 alpha-2
    region: Region
    currency: str  # ISO 4217


def _table(region: Region, *rows: tuple[str, str, str]) -> dict[str, Marketplace]:
    return {
        mid: Marketplace(id=mid, country=country, region=region, currency=currency) for country, mid, currency in rows
    }


# Source: design/spapi-brief.md §1 (developer-docs "marketplace-ids").
MARKETPLACES: dict[str, Marketplace] = {
    **_table(
        Region.NA,
        ("US", "ATVPDKIKX0DER", "USD"),
        ("CA", "A2EUQ1WTGCTBG2", "CAD"),
        ("MX", "A1AM78C64UM0Y8", "MXN"),
        ("BR", "A2Q3Y263D00KWC", "BRL"),
    ),
    **_table(
        Region.EU,
        ("GB", "A1F83G8C2ARO7P", "GBP"),
        ("IE", "A28R8C7NBKEWEA", "EUR"),
        ("DE", "A1PA6795UKMFR9", "EUR"),
        ("FR", "A13V1IB3VIYZZH", "EUR"),
        ("IT", "APJ6JRA9NG5V4", "EUR"),
        ("ES", "A1RKKUPIHCS9HS", "EUR"),
        ("NL", "A1805IZSGTT6HS", "EUR"),
        ("BE", "AMEN7PMS3EDWL", "EUR"),
        ("SE", "A2NODRKZP88ZB9", "SEK"),
        ("PL", "A1C3SOZRARQ6R3", "PLN"),
        ("TR", "A33AVAJ2PDY3EV", "TRY"),
        ("AE", "A2VIGQ35RCS4UG", "AED"),
        ("SA", "A17E79C6D8DWNP", "SAR"),
        ("EG", "ARBP9OOSHTCHU", "EGP"),
        # India is served by the EU endpoint, not FE (the brief, §1).
        ("IN", "A21TJRUUN4KGV", "INR"),
        ("ZA", "AE08WJ6YKNBMC", "ZAR"),
    ),
    **_table(
        Region.FE,
        ("JP", "A1VC38T7YXB528", "JPY"),
        ("AU", "A39IBJ37TRP1C6", "AUD"),
        ("SG", "A19VAU5U5O7RUS", "SGD"),
    ),
}

_BY_COUNTRY = {m.country: m for m in MARKETPLACES.values()}
# Amazon and sellers say "UK"; ISO 3166 says "GB". Accept both.
_BY_COUNTRY["UK"] = _BY_COUNTRY["GB"]


def marketplace(marketplace_id: str) -> Marketplace:
    """Look up a marketplace by id; raises KeyError for ids Amazon does not publish."""
    return MARKETPLACES[marketplace_id]


def marketplace_for_country(country: str) -> Marketplace:
    """Look up a marketplace by ISO country code (or "UK"); raises KeyError for countries without one."""
    return _BY_COUNTRY[country.upper()]


def marketplaces_in(region: Region) -> list[Marketplace]:
    return [m for m in MARKETPLACES.values() if m.region == region]
