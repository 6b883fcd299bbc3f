from datetime import UTC, datetime
from decimal import Decimal

import spapi
from catalog_sync import domain
from catalog_sync.listings_report import ReportRow


def _row(**fields):
    base = dict(
        line=2, sku="SHIRT-RED-L", row_hash="h", title="Shirt", asin="B07XJ8C8F5", price=Decimal("9.90"), quantity=4,
        condition="new_new", fulfillment_channel="MFN", status="BUYABLE", opened=None,
    )  # fmt: skip
    return ReportRow(**{**base, **fields})


def test_variation_family_from_listings_item_relationships_and_attributes():
    item = spapi.ListingsItem.model_validate(
        {
            "sku": "SHIRT-RED-L",
            "summaries": [{"marketplaceId": "ATVPDKIKX0DER", "status": ["DISCOVERABLE"],
                           "lastUpdatedDate": "2026-08-06T12:00:00Z"}],
            "attributes": {"size": [{"value": "L", "marketplace_id": "ATVPDKIKX0DER"}], "color": [{"value": "Red"}]},
            "relationships": [{"marketplaceId": "ATVPDKIKX0DER", "relationships": [
                {"type": "VARIATION", "parentSkus": ["SHIRT"],
                 "variationTheme": {"attributes": ["size", "color"], "theme": "SIZE/COLOR"}}]}],
        }
    )  # fmt: skip
    details = domain.details_of(item, "ATVPDKIKX0DER")
    content = domain.listing_content("conn-1", "ATVPDKIKX0DER", _row(), details, None)

    assert details.variation == domain.Variation("SHIRT", "SIZE/COLOR", {"size": "L", "color": "Red"})
    assert content["status"] == "DISCOVERABLE" and content["item_id"] == "SHIRT-RED-L"
    assert content["amazon_last_updated"] == datetime(2026, 8, 6, 12, tzinfo=UTC)
    event = domain.listing_updated(content, revision=1, now=datetime.now(UTC))
    assert event.listing_key == "conn-1:SHIRT-RED-L" and event.price.currency == "USD"


def test_the_content_hash_ignores_revision_and_time_but_not_the_link():
    content = domain.listing_content("conn-1", "ATVPDKIKX0DER", _row(), None, None)
    linked = domain.listing_content("conn-1", "ATVPDKIKX0DER", _row(), None, "ITEM-7")

    assert domain.content_hash(content) == domain.content_hash({**content, "revision": 9, "updated_at": "x"})
    assert domain.content_hash(content) != domain.content_hash(linked)
    assert domain.content_hash(content) != domain.content_hash(
        domain.listing_content("conn-1", "ATVPDKIKX0DER", _row(price=Decimal("9.91")), None, None)
    )


def test_fba_listings_carry_no_mfn_quantity():
    content = domain.listing_content("c", "ATVPDKIKX0DER", _row(fulfillment_channel="FBA", quantity=None), None, None)

    assert content["fulfillment_channel"] == "FBA" and content["mfn_quantity"] is None
