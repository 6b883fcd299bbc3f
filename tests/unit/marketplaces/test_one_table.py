"""Marketplaces and regions are defined once, in the marketplaces lib; every other table of them agrees with it."""

import ast
import re
import sys
import typing
from pathlib import Path

import contracts
import contracts.marketplaces
import marketplaces
import pytest
import spapi
from marketplaces import MARKETPLACES, Region, marketplace, marketplace_for_country, marketplaces_in
from spapi_sandbox import admin as sandbox_admin
from spapi_sandbox import state as sandbox_state

ROOT = Path(__file__).resolve().parents[3]


def test_contracts_spapi_and_connector_auth_read_the_lib_instead_of_keeping_a_table():
    assert contracts.MARKETPLACES is MARKETPLACES
    assert contracts.Marketplace is marketplaces.Marketplace
    assert spapi.MARKETPLACES is MARKETPLACES
    assert spapi.Marketplace is marketplaces.Marketplace
    assert spapi.Region is Region
    assert spapi.marketplace is marketplace
    assert typing.get_args(contracts.marketplaces.Region)[0] is Region


def test_the_sandbox_table_agrees_with_ours_on_every_marketplace_it_knows():
    ours = {mid: (m.country, m.currency, m.region) for mid, m in MARKETPLACES.items()}
    theirs = {mid: (m.country_code, m.currency, m.region) for mid, m in sandbox_state.MARKETPLACES.items()}
    assert len(theirs) >= 10
    assert {mid: row for mid, row in theirs.items() if ours.get(mid) != row} == {}


def test_the_sandbox_knows_the_same_regions():
    accepted = typing.get_args(sandbox_admin.SellerIn.model_fields["region"].annotation)
    regions = {v for arg in accepted if typing.get_origin(arg) is typing.Literal for v in typing.get_args(arg)}
    assert regions == {r.value for r in Region}
    assert {m.region for m in sandbox_state.MARKETPLACES.values()} == {r.value for r in Region}


def test_connector_auth_database_accepts_exactly_our_regions():
    sql = (ROOT / "services/connector-auth/migrations/0001_connections.sql").read_text()
    match = re.search(r"region\s+text\s+NOT NULL CHECK \(region IN \(([^)]*)\)\)", sql)
    assert match, "connector-auth's connections table no longer checks its region column"
    assert {v.strip().strip("'") for v in match.group(1).split(",")} == {r.value for r in Region}


def test_the_published_schema_lists_our_regions_and_marketplaces():
    schema = contracts.ConnectionUpdatedV1.model_json_schema()
    assert schema["properties"]["region"]["enum"] == [r.value for r in Region]
    assert schema["properties"]["marketplace_ids"]["items"]["enum"] == sorted(MARKETPLACES)


def test_every_region_has_marketplaces_and_india_is_served_from_europe():
    assert len(MARKETPLACES) == 23
    assert {r: len(marketplaces_in(r)) for r in Region} == {Region.NA: 4, Region.EU: 16, Region.FE: 3}
    assert marketplace("A21TJRUUN4KGV").region is Region.EU
    assert marketplace_for_country("uk") is marketplace_for_country("GB") is marketplace("A1F83G8C2ARO7P")
    assert all(len(m.country) == 2 and len(m.currency) == 3 for m in MARKETPLACES.values())
    with pytest.raises(KeyError):
        marketplace("ATVPDKIKX0DEX")
    with pytest.raises(ValueError, match="not an Amazon marketplace id"):
        contracts.marketplace("ATVPDKIKX0DEX")


def test_each_region_has_its_own_hosts():
    assert Region("EU").endpoint == "https://sellingpartnerapi-eu.amazon.com"
    assert Region.FE.sandbox_endpoint == "https://sandbox.sellingpartnerapi-fe.amazon.com"
    assert {r.aws_region for r in Region} == {"us-east-1", "eu-west-1", "us-west-2"}
    assert len({r.endpoint for r in Region}) == len({r.sandbox_endpoint for r in Region}) == 3
    assert spapi.endpoint_for(Region.NA, "http://127.0.0.1:9/") == "http://127.0.0.1:9"


# Amazon's "Seller Central URLs" (spapi-brief §1): one consent host per marketplace, except the unified
# European account's five marketplaces, which share one.
SELLER_CENTRAL_BY_COUNTRY = {
    "US": "sellercentral.amazon.com",
    "CA": "sellercentral.amazon.ca",
    "MX": "sellercentral.amazon.com.mx",
    "BR": "sellercentral.amazon.com.br",
    "GB": "sellercentral-europe.amazon.com",
    "DE": "sellercentral-europe.amazon.com",
    "FR": "sellercentral-europe.amazon.com",
    "IT": "sellercentral-europe.amazon.com",
    "ES": "sellercentral-europe.amazon.com",
    "IE": "sellercentral.amazon.ie",
    "NL": "sellercentral.amazon.nl",
    "BE": "sellercentral.amazon.com.be",
    "SE": "sellercentral.amazon.se",
    "PL": "sellercentral.amazon.pl",
    "TR": "sellercentral.amazon.com.tr",
    "AE": "sellercentral.amazon.ae",
    "SA": "sellercentral.amazon.sa",
    "EG": "sellercentral.amazon.eg",
    "IN": "sellercentral.amazon.in",
    "ZA": "sellercentral.amazon.co.za",
    "JP": "sellercentral.amazon.co.jp",
    "AU": "sellercentral.amazon.com.au",
    "SG": "sellercentral.amazon.sg",
}


@pytest.mark.parametrize("marketplace_id", sorted(MARKETPLACES))
def test_every_marketplace_has_its_own_sellers_seller_central(marketplace_id: str) -> None:
    m = marketplace(marketplace_id)
    assert m.seller_central == f"https://{SELLER_CENTRAL_BY_COUNTRY[m.country]}"


def test_the_seller_central_table_covers_the_registry_exactly() -> None:
    assert set(SELLER_CENTRAL_BY_COUNTRY) == {m.country for m in MARKETPLACES.values()}
    # Brazil, India, Australia, Singapore, Turkey and the Gulf could not authorize on a per-region host.
    assert len({m.seller_central for m in MARKETPLACES.values()}) == 19


def test_the_lib_imports_only_the_standard_library():
    package = Path(marketplaces.__file__).parent
    allowed = set(sys.stdlib_module_names) | {"marketplaces"}
    foreign: set[tuple[str, str]] = set()
    for module in package.rglob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            foreign |= {(module.name, n) for n in names if n.split(".")[0] not in allowed}
    assert foreign == set()
