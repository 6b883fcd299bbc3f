import json
from typing import Annotated, get_args

import pytest
from contracts import (
    TOPICS,
    ConnectionUpdatedV1,
    ContractError,
    OrderReceivedV1,
    all_pii_field_names,
    decode,
    encode,
    example_event,
    pii_fields,
)
from contracts.pii import Pii
from pydantic import BaseModel

ORDER_PII = [
    "buyer_name",
    "buyer_email",
    "buyer_phone",
    "ship_to.recipient_name",
    "ship_to.address_line1",
    "ship_to.address_line2",
    "ship_to.address_line3",
    "ship_to.postal_code",
    "ship_to.phone",
]

# Every other string on the order, said out loud: a new string field fails this test until someone decides.
ORDER_NOT_PII = {
    "connection_id",
    "selling_partner_id",
    "marketplace_id",
    "amazon_order_id",
    "ship_service_level",
    "internal_ship_method",
    "buyer_ref",
    "pii_reference",  # names the order, not the buyer
    "ship_to.city",
    "ship_to.state_or_region",
    "ship_to.country_code",
    "lines.order_item_id",
    "lines.seller_sku",
    "lines.asin",
    "lines.product_code",
    "lines.title",
    *(f"lines.{money}.currency" for money in ("item_price", "item_tax", "shipping_price", "shipping_tax")),
    "lines.promotion_discount.currency",
}


def test_order_pii_fields_are_exactly_the_restricted_ones():
    assert pii_fields(OrderReceivedV1) == ORDER_PII


def _leaf_types(annotation: object) -> set[object]:
    """The concrete types inside Optional/Union/list/dict/Annotated."""
    args = get_args(annotation)
    if not args:
        return {annotation}
    return set().union(*(_leaf_types(a) for a in args))


def _string_fields(model: type[BaseModel], prefix: str = "") -> set[str]:
    found: set[str] = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        for leaf in _leaf_types(info.annotation):
            if isinstance(leaf, type) and issubclass(leaf, BaseModel):
                found |= _string_fields(leaf, f"{path}.")
            elif leaf is str:
                found.add(path)
    return found


def test_every_string_field_of_an_order_is_classified():
    strings = _string_fields(OrderReceivedV1)

    assert strings - ORDER_NOT_PII - set(ORDER_PII) == set()
    assert set(ORDER_PII) <= strings  # the walk is not vacuous


def test_pii_is_marked_in_the_exported_schema():
    schema = OrderReceivedV1.model_json_schema()

    assert schema["properties"]["buyer_email"]["x-pii"] is True
    assert schema["$defs"]["ShippingAddressV1"]["properties"]["address_line1"]["x-pii"] is True
    assert "x-pii" not in schema["properties"]["buyer_ref"]
    assert "x-pii" not in schema["$defs"]["ShippingAddressV1"]["properties"]["city"]


def test_pii_is_found_through_lists_mappings_and_unions():
    class Parcel(BaseModel):
        label: Annotated[str, Pii()]
        weight: int

    class Shipment(BaseModel):
        parcels: list[Parcel]
        by_name: dict[str, Parcel]
        maybe: Parcel | None = None

    assert pii_fields(Shipment) == ["parcels.label", "by_name.label", "maybe.label"]


def test_all_pii_field_names_are_the_leaf_names_for_a_log_scrubber():
    assert all_pii_field_names() == frozenset(
        {
            "buyer_name",
            "buyer_email",
            "buyer_phone",
            "recipient_name",
            "address_line1",
            "address_line2",
            "address_line3",
            "postal_code",
            "phone",
        }
    )


@pytest.mark.parametrize("spec", TOPICS, ids=lambda s: s.name)
def test_topic_pii_flag_matches_its_payload(spec):
    assert spec.pii == bool(pii_fields(spec.payload))


def test_connection_updated_has_nothing_that_looks_like_a_secret():
    names = _all_field_names(ConnectionUpdatedV1)

    assert names  # the walk found the fields
    assert not [n for n in names if any(w in n for w in ("token", "secret", "password", "key", "credential"))]


def _all_field_names(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for name, info in model.model_fields.items():
        names.add(name)
        for leaf in _leaf_types(info.annotation):
            if isinstance(leaf, type) and issubclass(leaf, BaseModel):
                names |= _all_field_names(leaf)
    return names


def test_contract_errors_never_echo_pii_values():
    # ContractError messages end up in logs and dead-letter headers, which must stay free of PII.
    body = json.loads(encode(example_event("order.received")).value)
    body["data"]["buyer_email"] = "jordan.rivera-at-example"
    body["data"]["ship_to"]["recipient_name"] = "Jordan Rivera " * 20
    body["data"]["ship_to"]["phone"] = "+1"

    with pytest.raises(ContractError) as caught:
        decode("order.received", json.dumps(body).encode())

    assert {e["field"] for e in caught.value.errors} == {
        "data.buyer_email",
        "data.ship_to.recipient_name",
        "data.ship_to.phone",
    }
    for value in ("jordan.rivera-at-example", "Jordan Rivera", "+1"):
        assert value not in str(caught.value)
