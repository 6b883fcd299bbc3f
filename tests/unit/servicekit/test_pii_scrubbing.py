"""Every field the contracts mark as PII leaves every service's log output: fields, messages and exception text."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import contracts
import pytest
from servicekit.logging import JsonFormatter

ROOT = Path(__file__).resolve().parents[3]
ORDER = contracts.OrderReceivedV1.model_validate(contracts.EXAMPLES["order.received"][0])
BUYER = {"name": "Jordan Rivera", "street": "1450 Sierra Vista Dr", "phone": "+1 775-555-0142",
         "email": "k3x9qz7w2mlp4vd@marketplace.amazon.com", "postal code": "89503-1234"}  # fmt: skip
PII = contracts.all_pii_field_names()


def _line(msg: str = "x", args: tuple[object, ...] = (), exc: BaseException | None = None, **extra: object) -> str:
    record = logging.LogRecord("svc", logging.ERROR, __file__, 1, msg, args, (type(exc), exc, None) if exc else None)
    record.__dict__.update(extra)
    return JsonFormatter("svc", redact_keys=PII).format(record)


def _assert_clean(text: str) -> None:
    for what, value in BUYER.items():
        assert value not in text, f"the buyer's {what} leaked: {text}"


def test_the_contracts_list_covers_the_buyer_and_ship_to_fields() -> None:
    assert {"buyer_name", "buyer_email", "buyer_phone", "recipient_name", "address_line1", "address_line2",
            "address_line3", "postal_code", "phone"} <= PII  # fmt: skip


@pytest.mark.parametrize("name", sorted(PII))
def test_each_pii_field_is_scrubbed_as_a_field_a_pair_in_text_and_in_exception_text(name: str) -> None:
    value = "Jordan Rivera"
    assert value not in _line(**{name: value})
    assert value not in _line(payload={"ship_to": {name: value}})
    assert value not in _line(f"{name}={value!r}")
    assert value not in _line("failed: %s", (ValueError(f'{{"{name}": "{value}"}}'),))
    assert value not in _line("failed", exc=RuntimeError(f"{name}: '{value}'"))


def test_a_whole_payload_logged_as_an_object_or_its_repr_leaves_no_pii() -> None:
    _assert_clean(_line(order=ORDER.model_dump(mode="json")))
    _assert_clean(_line("order %s", (ORDER,)))
    _assert_clean(_line("address %r", (ORDER.ship_to,)))
    _assert_clean(_line("payload %s", (json.dumps(ORDER.model_dump(mode="json")),)))


def test_exception_text_quoting_a_payload_through_a_cause_chain_leaves_no_pii() -> None:
    try:
        try:
            raise ValueError(f"cannot ship {ORDER.ship_to!r}")
        except ValueError as inner:
            raise RuntimeError(f"order failed: {ORDER.model_dump(mode='json')}") from inner
    except RuntimeError as exc:
        _assert_clean(_line("boom", exc=exc))


def test_a_free_text_phone_number_is_scrubbed_and_an_order_id_is_not() -> None:
    line = _line("call +1 775-555-0142 about 113-8871264-0934622, or +44 (20) 7946 0958")
    assert "775-555" not in line and "7946" not in line
    assert "113-8871264-0934622" in line


def test_every_service_configures_its_logs_with_the_contracts_pii_names() -> None:
    mains = sorted(ROOT.glob("services/*/src/*/__main__.py"))
    assert len(mains) >= 6
    for main in mains:
        text = main.read_text()
        assert re.search(r"redact_keys\s*=\s*all_pii_field_names\(\)", text), f"{main} does not scrub PII"
