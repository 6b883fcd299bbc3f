"""Per-connection settings: defaults are valid, each rule's error names its field."""

from __future__ import annotations

from typing import Any

import pytest
from connector_auth.settings_rules import DEFAULT_SETTINGS, InvalidSettings, initial, merge


def test_defaults_follow_the_reference_products() -> None:
    settings = initial(None)
    assert settings.stock_cadence.mode == "daily"
    assert settings.stock_cadence.local_time == "00:00"  # type: ignore[union-attr]
    assert settings.order_poll_interval_minutes == 15
    assert settings.order_import == "unshipped_only"
    assert settings.product_code == "seller_sku"
    assert settings.fba_handling is False


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"handling_time_days": 0}, "settings.handling_time_days"),
        ({"handling_time_days": 31}, "settings.handling_time_days"),
        ({"stock_cadence": {"mode": "interval", "every_minutes": 9}}, "settings.stock_cadence.every_minutes"),
        ({"stock_cadence": {"mode": "daily", "local_time": "24:00"}}, "settings.stock_cadence.local_time"),
        ({"stock_cadence": {"mode": "weekly"}}, "settings.stock_cadence"),
        ({"order_poll_interval_minutes": 14}, "settings.order_poll_interval_minutes"),
        ({"order_poll_interval_minutes": 241}, "settings.order_poll_interval_minutes"),
        ({"order_import": "everything"}, "settings.order_import"),
        ({"product_code": "ean"}, "settings.product_code"),
        ({"stock_warehouse_ids": ["W1", "W1"]}, "settings.stock_warehouse_ids"),
        ({"ship_method_mapping": {"Teleport": "x"}}, "settings.ship_method_mapping.Teleport"),
        ({"carrier_mapping": {"ours": {"code": "Pigeon"}}}, "settings.carrier_mapping.ours.code"),
        ({"carrier_mapping": {"ours": {"code": "Other"}}}, "settings.carrier_mapping.ours.name"),
        ({"fba_handling": "yes"}, "settings.fba_handling"),
        ({"nonsense": 1}, "settings.nonsense"),
    ],
)
def test_each_invalid_setting_is_named(patch: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidSettings) as refused:
        merge(DEFAULT_SETTINGS, patch)
    assert [e["field"] for e in refused.value.errors] == [field]
    assert field in str(refused.value)


def test_valid_changes_replace_each_setting_whole() -> None:
    current = initial({"ship_method_mapping": {"Standard": "ground", "NextDay": "air"}}).model_dump(mode="json")
    changed = merge(
        current,
        {
            "ship_method_mapping": {"Expedited": "express"},
            "carrier_mapping": {"our-ups": {"code": "UPS"}, "local": {"code": "Other", "name": "Local Courier"}},
            "stock_cadence": {"mode": "near_real_time"},
            "order_poll_interval_minutes": 240,
        },
    )
    assert changed.ship_method_mapping == {"Expedited": "express"}
    assert changed.carrier_mapping["local"].name == "Local Courier"
    assert changed.stock_cadence.mode == "near_real_time"
