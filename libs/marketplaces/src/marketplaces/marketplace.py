"""The marketplaces Amazon publishes ids for, each with its country, currency, region and Seller Central."""

from __future__ import annotations

from dataclasses import dataclass

from marketplaces.region import Region


@dataclass(frozen=True, slots=True, kw_only=True)
class Marketplace:
    id: str
    country: str  # ISO 3166-1 alpha-2
    region: Region
    currency: str  # ISO 4217
    # Where this marketplace's sellers sign in, and so where their consent page is: a seller sent to
    # another marketplace's Seller Central may have no account there and cannot authorize.
    seller_central: str


def _table(region: Region, *rows: tuple[str, str, str, str]) -> dict[str, Marketplace]:
    return {
        mid: Marketplace(
            id=mid, country=country, region=region, currency=currency, seller_central=f"https://{seller_central}"
        )
        for country, mid, currency, seller_central in rows
    }


# The five marketplaces of the unified European account share one Seller Central (spapi-brief §1).
_EUROPE = "sellercentral-europe.amazon.com"


# Source: design/spapi-brief.md §1 (developer-docs "marketplace-ids" and "Seller Central URLs").
MARKETPLACES: dict[str, Marketplace] = {
    **_table(
        Region.NA,
        ("US", "ATVPDKIKX0DER", "USD", "sellercentral.amazon.com"),
        ("CA", "A2EUQ1WTGCTBG2", "CAD", "sellercentral.amazon.ca"),
        ("MX", "A1AM78C64UM0Y8", "MXN", "sellercentral.amazon.com.mx"),
        ("BR", "A2Q3Y263D00KWC", "BRL", "sellercentral.amazon.com.br"),
    ),
    **_table(
        Region.EU,
        ("GB", "A1F83G8C2ARO7P", "GBP", _EUROPE),
        ("IE", "A28R8C7NBKEWEA", "EUR", "sellercentral.amazon.ie"),
        ("DE", "A1PA6795UKMFR9", "EUR", _EUROPE),
        ("FR", "A13V1IB3VIYZZH", "EUR", _EUROPE),
        ("IT", "APJ6JRA9NG5V4", "EUR", _EUROPE),
        ("ES", "A1RKKUPIHCS9HS", "EUR", _EUROPE),
        ("NL", "A1805IZSGTT6HS", "EUR", "sellercentral.amazon.nl"),
        ("BE", "AMEN7PMS3EDWL", "EUR", "sellercentral.amazon.com.be"),
        ("SE", "A2NODRKZP88ZB9", "SEK", "sellercentral.amazon.se"),
        ("PL", "A1C3SOZRARQ6R3", "PLN", "sellercentral.amazon.pl"),
        ("TR", "A33AVAJ2PDY3EV", "TRY", "sellercentral.amazon.com.tr"),
        ("AE", "A2VIGQ35RCS4UG", "AED", "sellercentral.amazon.ae"),
        ("SA", "A17E79C6D8DWNP", "SAR", "sellercentral.amazon.sa"),
        ("EG", "ARBP9OOSHTCHU", "EGP", "sellercentral.amazon.eg"),
        # India is served by the EU endpoint, not FE (the brief, §1).
        ("IN", "A21TJRUUN4KGV", "INR", "sellercentral.amazon.in"),
        ("ZA", "AE08WJ6YKNBMC", "ZAR", "sellercentral.amazon.co.za"),
    ),
    **_table(
        Region.FE,
        ("JP", "A1VC38T7YXB528", "JPY", "sellercentral.amazon.co.jp"),
        ("AU", "A39IBJ37TRP1C6", "AUD", "sellercentral.amazon.com.au"),
        ("SG", "A19VAU5U5O7RUS", "SGD", "sellercentral.amazon.sg"),
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
