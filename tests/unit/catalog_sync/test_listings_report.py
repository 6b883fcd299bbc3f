from decimal import Decimal

import pytest
from catalog_sync import listings_report
from catalog_sync.listings_report import ReportUnusable, parse

HEADER = "item-name\tseller-sku\tprice\tquantity\tfulfillment-channel\tstatus\tasin1\titem-condition\topen-date"


def test_columns_are_read_by_name_whatever_their_order_and_extra_ones_are_ignored():
    text = (
        "status\tnew-amazon-column\tseller-sku\tasin1\tfulfillment-channel\tprice\titem-name\n"
        "Active\twhatever\tSKU-1\tB07XJ8C8F5\tAMAZON_EU\t12,50\tTent\n"
    )
    [row] = parse(text).rows

    assert (row.sku, row.asin, row.fulfillment_channel, row.price, row.title) == (
        "SKU-1", "B07XJ8C8F5", "FBA", Decimal("12.50"), "Tent"
    )  # fmt: skip
    assert row.quantity is None and row.status == "BUYABLE"


def test_missing_optional_columns_read_as_empty():
    [row] = parse("seller-sku\nONLY-SKU\n").rows

    assert (row.sku, row.price, row.quantity, row.asin, row.condition, row.opened) == (
        "ONLY-SKU", None, None, None, None, None
    )  # fmt: skip
    assert row.fulfillment_channel == "MFN" and row.status == "BUYABLE"


def test_a_malformed_row_is_a_failure_of_that_row_only():
    text = (
        f"{HEADER}\n"
        "Good\tOK-1\t1.00\t3\tDEFAULT\tActive\tB07XJ8C8F5\t11\t2026-08-06 14:31:07 UTC\n"
        "Bad\tBAD-PRICE\tcheap\t3\tDEFAULT\tActive\t\t11\t\n"
        "Bad\tBAD-QTY\t1.00\t-2\tDEFAULT\tActive\t\t11\t\n"
        "Split\ttitle\tBAD-SPLIT\t1.00\t3\tDEFAULT\tActive\t\t11\t\n"
        "Bad\tBAD-STATUS\t1.00\t3\tDEFAULT\tDeleted?\t\t11\t\n"
        "\t\t1.00\t3\tDEFAULT\tActive\t\t11\t\n"
    )
    parsed = parse(text)

    assert [r.sku for r in parsed.rows] == ["OK-1"]
    ok = parsed.rows[0]
    assert ok.condition == "new_new" and ok.quantity == 3 and ok.opened.isoformat() == "2026-08-06T14:31:07+00:00"
    failures = {(f.line, f.sku): f.error for f in parsed.failures}
    assert set(failures) == {(3, "BAD-PRICE"), (4, "BAD-QTY"), (5, "title"), (6, "BAD-STATUS"), (7, None)}
    assert failures[(3, "BAD-PRICE")] == "price is not a number"
    assert "cheap" not in " ".join(failures.values())


def test_cp1252_text_decoded_by_spapi_parses_like_any_other():
    import spapi

    raw = "seller-sku\titem-name\nJ-1\tJacke für Damen \u2013 20 €\n".encode("cp1252")
    [row] = parse(spapi.decode_report(raw, "text/plain;charset=Cp1252")).rows

    assert row.title == "Jacke für Damen \u2013 20 €"


def test_a_report_without_a_seller_sku_column_is_unusable():
    with pytest.raises(ReportUnusable, match="seller-sku"):
        parse("item-name\tprice\nTent\t1.00\n")
    with pytest.raises(ReportUnusable):
        parse("")


def test_long_skus_fail_and_are_not_named():
    parsed = parse(f"seller-sku\n{'S' * 41}\n")

    assert parsed.rows == [] and parsed.failures[0].sku is None
    assert listings_report.MAX_SKU == 40
