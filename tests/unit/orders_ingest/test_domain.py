"""Pure rules: import filters, mapping of Amazon's v2026 order to order.received/order.cancelled, pseudonyms."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import spapi
from contracts import EXAMPLES, ConnectionSettingsV1, ConnectionStatus, ContractError
from orders_ingest import domain
from orders_ingest.domain import Decision, InvalidOrder
from orders_ingest.notifications import NotificationIntake, order_change_schema

KEY = b"unit-test-buyer-ref-key-000000"

ORDER: dict[str, Any] = {
    "orderId": "113-8871264-0934622",
    "createdTime": "2026-08-06T14:31:07Z",
    "lastUpdatedTime": "2026-08-06T14:52:11.250Z",
    "programs": ["PRIME"],
    "salesChannel": {"channelName": "AMAZON", "marketplaceId": "ATVPDKIKX0DER"},
    "fulfillment": {
        "fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT", "fulfillmentServiceLevel": "SECOND_DAY",
        "shipByWindow": {"earliestDateTime": "2026-08-07T07:00:00Z", "latestDateTime": "2026-08-08T06:59:59Z"},
    },
    "buyer": {"buyerName": "Jordan Rivera", "buyerEmail": "k3x9@marketplace.amazon.com"},
    "recipient": {"deliveryAddress": {"name": "Jordan Rivera", "addressLine1": "1450 Sierra Vista Dr",
                                      "city": "Reno", "stateOrRegion": "NV", "postalCode": "89503",
                                      "countryCode": "US", "phone": "+1 775-555-0142"}},
    "orderItems": [
        {
            "orderItemId": "79039765272157", "quantityOrdered": 2,
            "product": {"asin": "B07XJ8C8F5", "sellerSku": "TENT-2P-GRN", "title": "Tent",
                        "price": {"unitPrice": {"amount": "129.99", "currencyCode": "USD"}}},
            "proceeds": {"proceedsTotal": {"amount": "261.43", "currencyCode": "USD"}, "breakdowns": [
                {"type": "ITEM", "subtotal": {"amount": "259.98", "currencyCode": "USD"}},
                {"type": "SHIPPING", "subtotal": {"amount": "4.99", "currencyCode": "USD"}},
                {"type": "TAX", "subtotal": {"amount": "21.86", "currencyCode": "USD"}, "detailedBreakdowns": [
                    {"subtype": "ITEM", "value": {"amount": "21.45", "currencyCode": "USD"}},
                    {"subtype": "SHIPPING", "value": {"amount": "0.41", "currencyCode": "USD"}}]},
                {"type": "DISCOUNT", "subtotal": {"amount": "-20.00", "currencyCode": "USD"}},
            ]},
            "fulfillment": {"quantityFulfilled": 1, "quantityUnfulfilled": 1},
        },
        {
            "orderItemId": "79039765272158", "quantityOrdered": 1,
            "product": {"asin": "B01N5IB20Q", "sellerSku": "STAKE-AL-8",
                        "price": {"unitPrice": {"amount": "12.99", "currencyCode": "USD"}}},
        },
    ],
}  # fmt: skip


def order(**changes: Any) -> spapi.Order:
    raw = copy.deepcopy(ORDER)
    raw.update(changes)
    return spapi.Order.model_validate(raw)


def settings(**changes: Any) -> ConnectionSettingsV1:
    raw = {**copy.deepcopy(EXAMPLES["connection.updated"][0]["settings"]), **changes}
    return ConnectionSettingsV1.model_validate(raw)


def connection(**changes: Any) -> domain.Connection:
    return domain.Connection(
        connection_id="conn-us-acme", status=ConnectionStatus.ACTIVE, region="NA", marketplace_ids=["ATVPDKIKX0DER"],
        selling_partner_id="A3EXAMPLE8SELLER", settings=settings(**changes), revision=1,
    )  # fmt: skip


def test_an_order_maps_lines_money_tax_discount_and_the_ship_method() -> None:
    event = domain.order_received(order(), connection(ship_method_mapping={"SecondDay": "2DAY"}), KEY)
    assert (event.status, event.fulfillment_channel, event.is_prime, event.is_business_order) == (
        "Unshipped", "MFN", True, False,
    )  # fmt: skip
    assert (event.ship_service_level_category, event.internal_ship_method) == ("SecondDay", "2DAY")
    tent, stake = event.lines
    assert (tent.item_price.amount, tent.item_tax.amount, tent.shipping_price.amount, tent.shipping_tax.amount) == (
        Decimal("259.98"), Decimal("21.45"), Decimal("4.99"), Decimal("0.41"),
    )  # fmt: skip
    assert tent.promotion_discount.amount == Decimal("20.00") and tent.quantity_shipped == 1
    # Without PROCEEDS breakdowns: unit price x quantity, no tax known (0).
    assert (stake.item_price.amount, stake.item_tax.amount, stake.quantity_shipped) == (Decimal("12.99"), 0, 0)
    assert tent.product_code == "TENT-2P-GRN"
    assert event.ship_to is not None and event.ship_to.postal_code == "89503"
    assert event.latest_ship_date is not None and event.earliest_ship_date is not None


def test_pii_minimal_delivery_publishes_no_buyer_or_ship_to_pii_only_a_reference() -> None:
    event = domain.order_received(order(), connection(pii_minimal_delivery=True), KEY)
    assert (event.buyer_name, event.buyer_email, event.buyer_phone, event.ship_to) == (None, None, None, None)
    assert event.pii_reference == f"urn:amazon-connector:pii:conn-us-acme:{event.amazon_order_id}"
    assert event.buyer_ref.startswith("buyer-")
    full = domain.order_received(order(), connection(), KEY)
    assert full.ship_to is not None and full.pii_reference is None


def test_product_code_follows_the_connection_and_unmapped_levels_have_no_internal_method() -> None:
    event = domain.order_received(order(), connection(product_code="asin", ship_method_mapping={}), KEY)
    assert [line.product_code for line in event.lines] == ["B07XJ8C8F5", "B01N5IB20Q"]
    assert event.internal_ship_method is None


def test_the_buyer_pseudonym_is_stable_per_seller_and_buyer_and_hides_the_email() -> None:
    one = domain.buyer_ref(KEY, "A3EXAMPLE8SELLER", order())
    assert one == domain.buyer_ref(KEY, "A3EXAMPLE8SELLER", order(orderId="113-0000000-0000001"))
    assert one != domain.buyer_ref(KEY, "A9OTHERSELLER", order())
    assert one != domain.buyer_ref(b"another-key-000000000000", "A3EXAMPLE8SELLER", order())
    assert "k3x9" not in one and one.startswith("buyer-") and len(one) == 6 + 32
    anonymous = order(buyer=None, recipient=None)
    assert domain.buyer_ref(KEY, "S", anonymous) != domain.buyer_ref(
        KEY, "S", order(buyer=None, recipient=None, orderId="113-0000000-0000002")
    )


@pytest.mark.parametrize(
    ("status", "by", "import_mode", "fba", "expected"),
    [
        ("UNSHIPPED", "MERCHANT", "unshipped_only", False, Decision.IMPORT),
        ("PARTIALLY_SHIPPED", "MERCHANT", "unshipped_only", False, Decision.IMPORT),
        ("SHIPPED", "MERCHANT", "unshipped_only", False, Decision.SKIP),
        ("SHIPPED", "MERCHANT", "include_fulfilled", False, Decision.IMPORT),
        ("SHIPPED", "AMAZON", "include_fulfilled", False, Decision.IMPORT),
        ("UNSHIPPED", "AMAZON", "unshipped_only", False, Decision.SKIP),
        ("UNSHIPPED", "AMAZON", "unshipped_only", True, Decision.IMPORT),
        ("PENDING", "MERCHANT", "include_fulfilled", True, Decision.SKIP),
        ("CANCELLED", "MERCHANT", "unshipped_only", False, Decision.CANCEL),
    ],
)
def test_which_orders_a_connection_imports(status, by, import_mode, fba, expected) -> None:
    fulfillment = {**ORDER["fulfillment"], "fulfillmentStatus": status, "fulfilledBy": by}
    decision, _ = domain.decide(order(fulfillment=fulfillment), settings(order_import=import_mode, fba_handling=fba))
    assert decision == expected


def test_amazon_fulfilled_orders_are_flagged_afn() -> None:
    fulfillment = {**ORDER["fulfillment"], "fulfillmentStatus": "SHIPPED", "fulfilledBy": "AMAZON"}
    event = domain.order_received(order(fulfillment=fulfillment), connection(order_import="include_fulfilled"), KEY)
    assert (event.fulfillment_channel, event.status) == ("AFN", "Shipped")


def test_polls_ask_for_cancellations_and_the_imported_statuses_only() -> None:
    assert {s.value for s in domain.search_statuses(settings())} == {"UNSHIPPED", "PARTIALLY_SHIPPED", "CANCELLED"}
    assert {s.value for s in domain.search_statuses(settings(order_import="include_fulfilled"))} == {
        "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED",
    }  # fmt: skip
    assert domain.search_fulfilled_by(settings()) == ["MERCHANT"]
    assert domain.search_fulfilled_by(settings(fba_handling=True)) == ["MERCHANT", "AMAZON"]
    assert not domain.needs_cancellation_checks(settings(order_poll_interval_minutes=60))
    assert domain.needs_cancellation_checks(settings(order_poll_interval_minutes=90))


def test_a_buyer_cancellation_names_the_buyer_and_the_reason() -> None:
    items = copy.deepcopy(ORDER["orderItems"])
    items[0]["cancellation"] = {"cancellationRequest": {"requester": "BUYER", "cancelReason": "Wrong size"}}
    cancelled = order(orderItems=items, fulfillment={**ORDER["fulfillment"], "fulfillmentStatus": "CANCELLED"})
    event = domain.order_cancelled(cancelled, connection())
    assert (event.cancelled_by, event.buyer_cancel_reason) == ("buyer", "Wrong size")
    assert domain.order_cancelled(order(), connection()).cancelled_by == "amazon"
    replayed = domain.order_cancelled(cancelled, connection(), at_revision="2026-08-06T10:00:00.000000Z")
    assert replayed.last_update_date.isoformat() == "2026-08-06T10:00:00+00:00"


def test_revisions_are_one_canonical_spelling_of_last_updated_time() -> None:
    assert domain.revision(order()) == "2026-08-06T14:52:11.250000Z"
    assert domain.revision(order(lastUpdatedTime="2026-08-06T16:52:11.25+02:00")) == "2026-08-06T14:52:11.250000Z"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"fulfillment": None}, "fulfillmentStatus"),
        ({"fulfillment": {**ORDER["fulfillment"], "fulfillmentStatus": "TELEPORTED"}}, "not a known status"),
        ({"salesChannel": {"channelName": "AMAZON"}}, "marketplaceId"),
    ],
)
def test_unexpected_orders_are_refused_with_messages_that_quote_no_data(change, where) -> None:
    with pytest.raises(InvalidOrder, match=where):
        domain.decide(order(**change), settings()) if "salesChannel" not in change else domain.order_received(
            order(**change), connection(), KEY
        )


def test_contract_violations_name_the_field_but_not_the_value() -> None:
    items = copy.deepcopy(ORDER["orderItems"])
    items[0]["product"]["sellerSku"] = "SECRET-" + "X" * 40
    with pytest.raises((InvalidOrder, ContractError)) as caught:
        domain.order_received(order(orderItems=items), connection(), KEY)
    assert "seller_sku" in str(caught.value) and "SECRET" not in str(caught.value)
    items = copy.deepcopy(ORDER["orderItems"])
    items[1]["product"]["price"] = {"unitPrice": {"amount": "-1.00", "currencyCode": "USD"}}
    with pytest.raises(InvalidOrder, match="item_price"):
        domain.order_received(order(orderItems=items), connection(), KEY)


def test_bookkeeping_keeps_ids_and_quantities_only() -> None:
    kept = json.dumps(domain.bookkeeping_items(order()))
    assert "TENT-2P-GRN" in kept and "Tent" not in kept and "129.99" not in kept and "Jordan" not in kept


def test_the_packaged_order_change_schema_is_amazons() -> None:
    shared = Path(__file__).resolve().parents[4] / "shared" / "spapi-models" / "notification_OrderChange.json"
    if not shared.exists():  # outside the development checkout the copy is all there is
        pytest.fail(f"{shared} missing: the copy in the package cannot be checked")
    assert order_change_schema() == json.loads(shared.read_text())


def test_notifications_are_checked_cheapest_first_and_problems_name_paths_not_values() -> None:
    intake = NotificationIntake(pool=None, application_id="amzn1.sp.solution.ours")  # type: ignore[arg-type]
    example = copy.deepcopy(order_change_schema()["examples"][0])
    example["NotificationMetadata"]["ApplicationId"] = "amzn1.sp.solution.ours"

    def outcome(document: Any) -> tuple[str, str]:
        verdict, _ = intake.check(document if isinstance(document, str) else json.dumps(document))
        return verdict.outcome.value, verdict.problem

    assert outcome(example) == ("queued", "")
    broken = copy.deepcopy(example)
    broken["Payload"]["OrderChangeNotification"]["Summary"]["NumberOfItemsShipped"] = "48110-secret"
    kind, problem = outcome(broken)
    assert kind == "invalid" and "NumberOfItemsShipped" in problem and "48110" not in problem
    assert outcome({**example, "NotificationType": "ANY_OFFER_CHANGED"})[0] == "invalid"
    assert outcome("{not json")[0] == "not_json"
    assert outcome(json.dumps(example) + " " * 70_000)[0] == "too_large"
    foreign = copy.deepcopy(example)
    foreign["NotificationMetadata"]["ApplicationId"] = "amzn1.sp.solution.theirs"
    assert outcome(foreign)[0] == "foreign_application"
    for bad in ("903-8868176-221983", "903-8868176-2219830 ", "9O3-8868176-2219830", "../../orders"):
        wrong = copy.deepcopy(example)
        wrong["Payload"]["OrderChangeNotification"]["AmazonOrderId"] = bad
        assert outcome(wrong)[0] == "bad_order_id", bad
    # Without SPAPI_APPLICATION_ID any application's notification passes that check.
    anyone = NotificationIntake(pool=None)  # type: ignore[arg-type]
    assert anyone.check(json.dumps(foreign))[0].outcome.value == "queued"
