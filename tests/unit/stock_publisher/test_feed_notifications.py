"""FEED_PROCESSING_FINISHED documents (stock_publisher.feed_notifications.finished_feed) and the listings report's
quantities (stock_publisher.domain.report_quantities)."""

from __future__ import annotations

import copy
import json

import pytest
from spapi_sandbox.config import find_models_dir
from stock_publisher import domain
from stock_publisher.feed_notifications import finished_feed


def amazon_example() -> dict[str, object]:
    schema = json.loads((find_models_dir() / "notification_FeedProcessingFinished.json").read_text())
    return copy.deepcopy(schema["examples"][0])


def test_amazons_own_example_names_its_seller_and_feed() -> None:
    assert finished_feed(json.dumps(amazon_example())) == ("A3TH9S8BH6GOGM", "53347018456")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("not json", "not_json"),
        (json.dumps({"notificationType": "ORDER_CHANGE"}), "invalid"),
        (json.dumps({"notificationType": "FEED_PROCESSING_FINISHED", "payload": {}}), "invalid"),
        ("x" * 70_000, "invalid"),
    ],
)
def test_anything_else_is_dropped_with_its_reason(body: str, why: str) -> None:
    assert finished_feed(body) == why


def test_a_vendor_feed_without_a_seller_or_a_feed_id_that_is_no_number_is_dropped() -> None:
    vendor = amazon_example()
    del vendor["payload"]["feedProcessingFinishedNotification"]["sellerId"]  # type: ignore[index]
    odd = amazon_example()
    odd["payload"]["feedProcessingFinishedNotification"]["feedId"] = "../1"  # type: ignore[index]
    assert finished_feed(json.dumps(vendor)) == "invalid" and finished_feed(json.dumps(odd)) == "invalid"


def test_report_quantities_by_column_name() -> None:
    text = "\ufeffStatus\tQuantity\tseller-sku\textra\nActive\t12\tA\tx\nActive\t\tFBA-1\tx\nActive\tn/a\tB\tx\n\n"
    assert domain.report_quantities(text) == {"A": 12, "FBA-1": None, "B": None}


def test_a_report_without_quantity_is_unusable() -> None:
    with pytest.raises(domain.ReportUnusable):
        domain.report_quantities("seller-sku\tprice\nA\t1.00\n")
    with pytest.raises(domain.ReportUnusable):
        domain.report_quantities("")
