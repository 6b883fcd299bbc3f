from datetime import UTC, datetime, timedelta

import pytest
from contracts import EXAMPLES, ConnectionSettingsV1
from shipment_relay import domain
from shipment_relay.domain import KnownItem, Line, Rejection

NOW = datetime(2026, 8, 7, 12, tzinfo=UTC)
AMAZON = {"1": KnownItem("1", "TENT", 3, 1), "2": KnownItem("2", "STAKE", 1, 0)}


def resolve(lines: list[Line], **overrides: object) -> dict[str, int]:
    args: dict[str, object] = {
        "local": AMAZON, "amazon": AMAZON, "in_flight": {}, "carrier_code": "UPS",
        "ship_date": NOW - timedelta(hours=1), "now": NOW,
    }  # fmt: skip
    args.update(overrides)
    return domain.resolve(lines, **args)  # type: ignore[arg-type]


def test_carrier_mapping_wins_then_amazons_own_code_then_other_with_the_name() -> None:
    example = dict(EXAMPLES["connection.updated"][0]["settings"])
    settings = ConnectionSettingsV1.model_validate({**example, "carrier_mapping": {"ups-ground": {"code": "UPS"}}})
    assert domain.carrier_for(settings, "ups-ground") == domain.Carrier("UPS", None)
    assert domain.carrier_for(settings, "FedEx") == domain.Carrier("FedEx", None)
    assert domain.carrier_for(None, "Reno Couriers") == domain.Carrier("Other", "Reno Couriers")


def test_lines_by_sku_and_by_id_add_up_per_item() -> None:
    assert resolve([Line("1", None, 1), Line(None, "TENT", 1), Line(None, "STAKE", 1)]) == {"1": 2, "2": 1}


@pytest.mark.parametrize(
    ("lines", "overrides", "reason"),
    [
        ([Line("9", None, 1)], {}, "order item 9 is not an item of the order"),
        ([Line(None, "NOPE", 1)], {}, "SKU NOPE is not an item of the order"),
        ([Line("1", None, 3)], {}, "exceeds the 2 left to ship"),
        ([Line("1", None, 2)], {"in_flight": {"1": 1}}, "exceeds the 1 left to ship"),
        ([Line("1", None, 1)], {"ship_date": NOW + timedelta(hours=1)}, "in the future"),
        ([Line("1", None, 1)], {"carrier_code": "Acme"}, "not on Amazon's carrier list"),
        # What orders-ingest saw shipped counts even before Amazon's read shows it.
        ([Line("1", None, 2)], {"local": {**AMAZON, "1": KnownItem("1", "TENT", 3, 2)}}, "exceeds the 1 left"),
    ],
)
def test_rejections_name_their_reason(lines: list[Line], overrides: dict[str, object], reason: str) -> None:
    with pytest.raises(Rejection, match=reason):
        resolve(lines, **overrides)


def test_a_little_clock_skew_is_not_the_future() -> None:
    assert resolve([Line("1", None, 1)], ship_date=NOW + timedelta(minutes=2)) == {"1": 1}


def test_without_amazons_read_the_order_as_orders_ingest_saw_it_decides() -> None:
    local = {"1": KnownItem("1", "TENT", 3, 1), "2": KnownItem("2", "STAKE", 1, 0)}
    assert resolve([Line(None, "TENT", 2)], local=local, amazon=None) == {"1": 2}
    with pytest.raises(Rejection, match="order item 9 is not an item of the order"):
        resolve([Line("9", None, 1)], local=local, amazon=None)
    # Our own packages may be in orders-ingest's shipped count already: the larger of the two, not the sum.
    assert resolve([Line("1", None, 2)], local=local, amazon=None, in_flight={"1": 1}) == {"1": 2}
    with pytest.raises(Rejection, match="exceeds the 1 left to ship"):
        resolve([Line("1", None, 2)], local=local, amazon=None, in_flight={"1": 2})
