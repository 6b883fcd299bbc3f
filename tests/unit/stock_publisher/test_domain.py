"""Stock rules, cadence and Amazon's formats (stock_publisher.domain)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import contracts
import pytest
from stock_publisher import domain


def settings(**changes: Any) -> contracts.ConnectionSettingsV1:
    base = json.loads(json.dumps(contracts.EXAMPLES["connection.updated"][0]["settings"]))
    base.update(changes)
    return contracts.ConnectionSettingsV1.model_validate(base)


@pytest.mark.parametrize(
    ("total", "rules", "expected"),
    [
        (15, {}, 15),
        (-3, {}, 0),  # floored at 0
        (15, {"stock_buffer": 2}, 13),
        (1, {"stock_buffer": 2}, 0),
        (60, {"stock_buffer": 1, "stock_cap": 40}, 40),
        (4, {"stock_buffer": 1, "stock_zero_below": 3}, 3),
        (3, {"stock_buffer": 1, "stock_zero_below": 3}, 0),
        (0, {"stock_cap": 0}, 0),
    ],
)
def test_amazon_quantity_applies_buffer_cap_and_threshold_in_order(
    total: int, rules: dict[str, Any], expected: int
) -> None:
    assert domain.amazon_quantity(total, settings(**rules)) == expected


def test_daily_push_is_at_local_midnight_in_the_connections_time_zone() -> None:
    daily = settings(stock_cadence={"mode": "daily", "timezone": "Europe/Berlin"})
    # 22:30 UTC on 1 July is 00:30 in Berlin (CEST): the next local midnight is 22:00 UTC on 2 July.
    assert domain.next_push(daily, datetime(2026, 7, 1, 22, 30, tzinfo=UTC)) == datetime(2026, 7, 2, 22, 0, tzinfo=UTC)
    assert domain.next_push(daily, datetime(2026, 7, 1, 21, 59, tzinfo=UTC)) == datetime(2026, 7, 1, 22, 0, tzinfo=UTC)


def test_interval_and_near_real_time_cadence() -> None:
    now = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert domain.next_push(settings(stock_cadence={"mode": "interval", "every_minutes": 10}), now) == datetime(
        2026, 7, 1, 12, 10, tzinfo=UTC
    )
    assert domain.next_push(settings(stock_cadence={"mode": "near_real_time"}), now) is None


def _wanted(sku: str, quantity: int = 4) -> domain.Wanted:
    return domain.Wanted(
        sku=sku, marketplace_id="ATVPDKIKX0DER", quantity=quantity, handling=2, as_of=datetime.now(UTC), total=quantity
    )


def test_feed_document_merges_quantity_and_handling_time_and_passes_the_schema() -> None:
    document = domain.feed_document("A1SELLER", [_wanted("A"), _wanted("B", 0)])
    domain.validate_feed(document)
    body = json.loads(document)
    assert [m["messageId"] for m in body["messages"]] == [1, 2]
    patch = body["messages"][1]["patches"][0]
    assert patch["op"] == "merge" and patch["path"] == "/attributes/fulfillment_availability"
    assert patch["value"] == [{"fulfillment_channel_code": "DEFAULT", "quantity": 0, "lead_time_to_ship_max_days": 2}]
    assert domain.content_hash(document) == domain.content_hash(
        domain.feed_document("A1SELLER", [_wanted("A"), _wanted("B", 0)])
    )


def test_a_document_that_breaks_the_schema_is_refused() -> None:
    broken = json.loads(domain.feed_document("A1SELLER", [_wanted("A")]))
    broken["header"]["version"] = "1.0"
    with pytest.raises(domain.InvalidFeed):
        domain.validate_feed(json.dumps(broken).encode())
    broken = json.loads(domain.feed_document("A1SELLER", [_wanted("A")]))
    broken["messages"][0]["messageId"] = 0
    with pytest.raises(domain.InvalidFeed):
        domain.validate_feed(json.dumps(broken).encode())
