"""JSON logs on stdout with correlation context, and a scrubber that keeps PII and secrets out of them."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from servicekit.scrubbing import REDACTED, Scrubber

_context: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("log_context", default={})  # noqa: B039

# Attributes every LogRecord has; anything else came from `extra=` and is rendered as a field.
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
__all__ = ["REDACTED", "JsonFormatter", "configure_logging", "log_context"]


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Adds fields (event id, topic, offset, connection id …) to every log line written inside the block."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str, redact_keys: Iterable[str] = ()) -> None:
        super().__init__()
        self._service = service
        self._scrubber = Scrubber(redact_keys)

    def _scrub(self, key: str, value: Any) -> Any:
        if self._scrubber.is_sensitive(key):
            return REDACTED
        if isinstance(value, dict):
            return {k: self._scrub(str(k), v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._scrub(key, v) for v in value]
        if isinstance(value, BaseException):
            return self._scrubber.message(value)
        if isinstance(value, str):
            return self._scrubber.text(value)
        return value

    def _message(self, record: logging.LogRecord) -> str:
        # `log.warning("failed: %s", exc)` puts exception text in the message: render it as `exc` is rendered.
        if isinstance(record.args, tuple) and any(isinstance(a, BaseException) for a in record.args):
            args = tuple(self._scrubber.message(a) if isinstance(a, BaseException) else a for a in record.args)
            return self._scrubber.text(str(record.msg) % args)
        return self._scrubber.text(record.getMessage())

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "msg": self._message(record),
        }
        extra = {**_context.get(), **{k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRS}}
        for key, value in extra.items():
            entry[key] = self._scrub(key, value)
        if record.exc_info and record.exc_info[1] is not None:
            # Exception text can quote input (pydantic does): it is rendered without input and scrubbed.
            entry["exc"] = self._scrubber.traceback(record.exc_info[1])
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO", redact_keys: Iterable[str] = ()) -> None:
    """Called once by a service's entrypoint; libraries only ever call logging.getLogger."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service, redact_keys))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Their INFO lines are per-request noise; warnings still come through.
    for noisy in ("aiokafka", "uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
