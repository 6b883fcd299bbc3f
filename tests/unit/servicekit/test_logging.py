import json
import logging
import re
import secrets
import uuid

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from servicekit.logging import JsonFormatter, log_context


def _render(record_extra: dict, redact=()) -> dict:
    formatter = JsonFormatter("svc", redact_keys=redact)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    record.__dict__.update(record_extra)
    return json.loads(formatter.format(record))


def test_log_lines_are_json_with_context() -> None:
    with log_context(event_id="e-1", topic="order.received"):
        line = _render({"offset": 7})
    assert line["msg"] == "hello world"
    assert (line["service"], line["event_id"], line["topic"], line["offset"]) == ("svc", "e-1", "order.received", 7)


def test_pii_and_secret_fields_are_scrubbed_even_when_nested() -> None:
    line = _render(
        {"buyer_email": "a@b.example", "refresh_token": "Atzr|xyz", "order": {"name": "Jane Doe", "id": "1"}},
        redact={"buyer_email", "name"},
    )
    dumped = json.dumps(line)
    assert "a@b.example" not in dumped and "Atzr|xyz" not in dumped and "Jane Doe" not in dumped
    assert line["order"]["id"] == "1"


EMAIL = "jane.doe@example.com"
PII_KEYS = {"buyer_email", "buyer_name", "postal_code", "name"}
# Kept out of the line that validates it: a traceback quotes source lines, and this is about runtime values.
BUYER = {"age": EMAIL, "city": "Springfield-on-Sea"}


def _render_exception(exc: BaseException, msg: str = "failed", args: tuple = ()) -> tuple[dict, str]:
    formatter = JsonFormatter("svc", redact_keys=PII_KEYS)
    try:
        raise exc
    except BaseException:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, msg, args, sys.exc_info())
    text = formatter.format(record)
    return json.loads(text), text


class _Buyer(BaseModel):
    age: int
    city: str = Field(max_length=3)


def _validation_error() -> ValidationError:
    try:
        _Buyer.model_validate(BUYER)
    except ValidationError as exc:
        return exc
    raise AssertionError("unreachable")


def test_exception_text_loses_the_values_of_redacted_keys() -> None:
    exc = ValueError("cannot ship order 113-1234567-1234567 to {'buyer_name': 'Jane Doe', 'postal_code': '90210'}")
    line, text = _render_exception(exc)
    assert "Jane Doe" not in text and "90210" not in text
    assert "113-1234567-1234567" in line["exc"] and "'buyer_name': '[redacted]'" in line["exc"]
    assert line["exc"].startswith("Traceback (most recent call last):") and "ValueError: cannot ship" in line["exc"]


def test_a_validation_error_is_logged_without_its_input() -> None:
    line, text = _render_exception(_validation_error())
    assert EMAIL not in text and "Springfield" not in text
    assert "age: Input should be a valid integer" in line["exc"] and "city: String should have at most 3" in line["exc"]
    assert "pydantic_core._pydantic_core.ValidationError: 2 validation error(s) for _Buyer" in line["exc"]


def test_a_request_validation_error_is_logged_without_its_input() -> None:
    exc = RequestValidationError(
        [{"type": "missing", "loc": ("body", "buyer_email"), "msg": "bad", "input": EMAIL}], body={"x": EMAIL}
    )
    line, text = _render_exception(exc)
    assert EMAIL not in text and "body.buyer_email: bad" in line["exc"]


def test_tokens_passwords_emails_and_long_secrets_leave_exception_text() -> None:
    secret = "Zx9" + secrets.token_urlsafe(32)
    exc = RuntimeError(
        f"POST failed (Authorization: Bearer abc.DEF-123_xyz) for {EMAIL} via postgresql://connector:hunter2@db/x;"
        f" refresh_token=Atzr|IwEBIabc key {secret} event {uuid.uuid4().hex} Key (email)=(someone@else.example)"
    )
    line, text = _render_exception(exc)
    for value in ("abc.DEF-123_xyz", EMAIL, "hunter2", "Atzr|IwEBIabc", secret, "someone@else.example"):
        assert value not in text, value
    assert "postgresql://connector:[redacted]@db/x" in line["exc"]
    assert re.search(r"event [0-9a-f]{32}", line["exc"])  # ids stay readable


def test_chained_and_grouped_exceptions_are_scrubbed_at_every_level() -> None:
    try:
        try:
            raise _validation_error()
        except ValidationError as inner:
            raise ValueError(f"could not import buyer_email={EMAIL}") from inner
    except ValueError as outer:
        line, text = _render_exception(ExceptionGroup("lanes", [outer, KeyError("name='Jane Doe'")]))
    assert EMAIL not in text and "Jane Doe" not in text
    assert "direct cause of the following exception" in line["exc"] and "ExceptionGroup: lanes" in line["exc"]


def test_an_exception_passed_as_a_message_argument_is_scrubbed_too() -> None:
    line, text = _render_exception(ValueError("x"), msg="import failed: %s (%s)", args=(_validation_error(), "lane-1"))
    assert EMAIL not in text and line["msg"].startswith("import failed: 2 validation error(s) for _Buyer")
    assert line["msg"].endswith("(lane-1)")
