"""Field rules publishers hit most: money, timestamps, SKUs, marketplaces, connection settings."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from contracts import (
    EXAMPLES,
    MARKETPLACES,
    ConnectionUpdatedV1,
    Money,
    OrderReceivedV1,
    ShipmentCreatedV1,
    StockChangedV1,
    marketplace,
)
from contracts.errors import field_errors
from pydantic import BaseModel, ValidationError


def _errors(model: type[BaseModel], data: dict) -> list[dict]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return field_errors(caught.value)


def test_money_keeps_trailing_zeros_and_travels_as_a_string():
    money = Money.model_validate({"amount": "19.90", "currency": "EUR"})

    assert money.amount == Decimal("19.90")
    assert money.model_dump(mode="json") == {"amount": "19.90", "currency": "EUR"}


def test_money_never_prints_an_exponent():
    assert Money(amount=Decimal("1E+2"), currency="JPY").model_dump(mode="json")["amount"] == "100"


@pytest.mark.parametrize("amount", [19.99, 20, "1e3", "-5.00", "19,99", "", True])
def test_money_amount_must_be_a_plain_non_negative_decimal_string(amount):
    errors = _errors(Money, {"amount": amount, "currency": "USD"})

    assert [e["field"] for e in errors] == ["amount"]


@pytest.mark.parametrize("currency", ["usd", "US", "XAU", "EURO"])
def test_currency_must_be_an_active_iso_4217_code(currency):
    assert [e["field"] for e in _errors(Money, {"amount": "1.00", "currency": currency})] == ["currency"]


def test_every_marketplace_currency_is_iso_4217():
    valid = {m.currency for m in MARKETPLACES.values()}

    for currency in valid:
        Money.model_validate({"amount": "1", "currency": currency})


def test_marketplace_table_matches_the_brief():
    assert len(MARKETPLACES) == 23
    assert marketplace("ATVPDKIKX0DER").country == "US"
    assert marketplace("A21TJRUUN4KGV").region == "EU"  # India is served by the EU endpoint
    assert marketplace("A1VC38T7YXB528").region == "FE"
    with pytest.raises(ValueError, match="not an Amazon marketplace id"):
        marketplace("ATVPDKIKX0DEX")


def _stock(**changes: object) -> dict:
    return {**EXAMPLES["stock.changed"][0], **changes}


@pytest.mark.parametrize(
    "as_of",
    ["2026-08-06T13:59:12", "2026-08-06 13:59:12Z", "2026-08-06", 1786024752, "2026-08-06T13:59:12+0200"],
)
def test_timestamps_must_be_rfc3339_with_an_offset(as_of):
    assert [e["field"] for e in _errors(StockChangedV1, _stock(as_of=as_of))] == ["as_of"]


@pytest.mark.parametrize(
    "as_of",
    [
        "2026-08-06T13:59:12Z", "2026-08-06T13:59:12.123456789+05:30", "2026-08-06T13:59:12-00:00",
        "2026-08-06T13:59:12", "2026-08-06 13:59:12Z", "2026-08-06", 1786024752, "2026-08-06T13:59:12+0200",
        "2026-13-06T13:59:12Z", "2026-02-30T13:59:12Z", "2026-08-06T24:00:00Z", "2026-08-06t13:59:12z",
        "2026-08-06T13:59:12Z\n", "\uff12\uff10\uff12\uff16-08-06T13:59:12Z", "2026-08-06T13:59:12.Z", None, True,
    ],
)  # fmt: skip
def test_a_timestamp_from_json_is_judged_as_from_python(as_of):
    # JSON is checked inside pydantic-core (decode's fast path), Python by the validator that words the error.
    document = json.dumps(_stock(as_of=as_of))
    try:
        from_json = StockChangedV1.model_validate_json(document).as_of
    except ValidationError:
        from_json = None
    try:
        from_python = StockChangedV1.model_validate(json.loads(document)).as_of
    except ValidationError:
        from_python = None
    assert from_json == from_python


def test_timestamp_offset_is_kept():
    stock = StockChangedV1.model_validate(_stock(as_of="2026-08-06T09:59:12-04:00"))

    assert stock.as_of.utcoffset() == timedelta(hours=-4)


@pytest.mark.parametrize("sku", ["A", "X" * 40, "TENT 2P/grün"])
def test_sku_of_1_to_40_characters_is_accepted(sku):
    assert StockChangedV1.model_validate(_stock(sku=sku)).sku == sku


@pytest.mark.parametrize("available", [True, "3", 3.0, -1])
def test_quantity_must_be_a_non_negative_json_integer(available):
    assert [e["field"] for e in _errors(StockChangedV1, _stock(available=available))] == ["available"]


def test_pattern_errors_say_what_the_value_should_look_like():
    order = {**EXAMPLES["order.received"][0], "amazon_order_id": "1138871264"}

    assert _errors(OrderReceivedV1, order) == [
        {
            "field": "amazon_order_id",
            "message": "must look like an Amazon order id: 3-7-7 digits, e.g. 113-8871264-0934622",
        }
    ]


def test_lines_in_two_currencies_are_rejected():
    order = EXAMPLES["order.received"][0]
    second = {
        **order["lines"][1],
        **{k: {**order["lines"][1][k], "currency": "CAD"} for k in ("item_price", "item_tax", "shipping_price")},
        **{k: {**order["lines"][1][k], "currency": "CAD"} for k in ("shipping_tax", "promotion_discount")},
    }

    errors = _errors(OrderReceivedV1, {**order, "lines": [order["lines"][0], second]})

    assert errors == [{"field": "lines", "message": "all lines must use one currency, got CAD, USD"}]


def test_ship_window_must_not_be_reversed():
    order = {**EXAMPLES["order.received"][0], "latest_ship_date": "2026-08-06T00:00:00Z"}

    assert [e["field"] for e in _errors(OrderReceivedV1, order)] == ["latest_ship_date"]


def test_order_from_amazon_tolerates_a_field_added_by_a_newer_producer():
    order = OrderReceivedV1.model_validate({**EXAMPLES["order.received"][0], "gift_wrap": True})

    assert "gift_wrap" not in order.model_dump()


def _connection(**settings: object) -> dict:
    base = EXAMPLES["connection.updated"][0]
    return {**base, "settings": {**base["settings"], **settings}}


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"handling_time_days": 0}, "settings.handling_time_days"),
        ({"order_poll_interval_minutes": 10}, "settings.order_poll_interval_minutes"),
        ({"order_poll_interval_minutes": 241}, "settings.order_poll_interval_minutes"),
        ({"stock_warehouse_ids": ["WH-1", "WH-1"]}, "settings.stock_warehouse_ids"),
        (
            {"stock_cadence": {"mode": "daily", "local_time": "24:00", "timezone": "UTC"}},
            "settings.stock_cadence.daily.local_time",
        ),
        ({"stock_cadence": {"mode": "hourly"}}, "settings.stock_cadence"),
        ({"ship_method_mapping": {"Overnight": "AIR"}}, "settings.ship_method_mapping.Overnight.[key]"),
        ({"carrier_mapping": {"courier": {"code": "Other"}}}, "settings.carrier_mapping.courier.name"),
        ({"order_import": "everything"}, "settings.order_import"),
    ],
)
def test_connection_settings_rules(settings, field):
    assert [e["field"] for e in _errors(ConnectionUpdatedV1, _connection(**settings))] == [field]


def test_daily_cadence_defaults_to_midnight_utc():
    connection = ConnectionUpdatedV1.model_validate(_connection(stock_cadence={"mode": "daily"}))

    assert connection.settings.stock_cadence.model_dump() == {"mode": "daily", "local_time": "00:00", "timezone": "UTC"}


def test_connection_name_carrying_an_lwa_token_is_refused():
    data = {**EXAMPLES["connection.updated"][0], "name": "Acme Atzr|IwEBIA-example"}

    assert [e["field"] for e in _errors(ConnectionUpdatedV1, data)] == ["name"]


def test_package_item_may_name_the_line_by_sku_or_order_item_id():
    shipment = ShipmentCreatedV1.model_validate(EXAMPLES["shipment.created"][0])

    assert shipment.packages[0].items[0].order_item_id == "79039765272157"
    assert shipment.packages[1].items[0].sku == "STAKE-AL-8"
