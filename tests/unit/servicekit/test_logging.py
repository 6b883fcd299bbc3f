import json
import logging

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
