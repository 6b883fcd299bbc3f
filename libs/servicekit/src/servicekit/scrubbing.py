"""Exception text without the values in it: what a traceback says, minus secrets and personal data.

An exception's message is written by whoever raised it and may quote its input (pydantic does, so do careless
`ValueError(f"... {value}")`). Before such text reaches a log line it goes through here.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterable
from typing import Any

from fastapi.exceptions import ValidationException
from pydantic import ValidationError

REDACTED = "[redacted]"
# Key fragments that mark a secret wherever they appear in a field name.
SECRET_MARKERS = ("token", "secret", "password", "authorization", "dsn", "credential")

_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/=|]+")
_LWA_TOKEN = re.compile(r"Atz[ar]\|[^\s'\",;)}\]]+")
_JWT = re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*")
_URL_PASSWORD = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@\s]+@")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# An international phone number in free text (`+1 775-555-0142`, `+44 (20) 7946 0958`): a plus, then 7+ digits
# with separators. Amazon order ids (`113-8871264-0934622`) have no plus and stay readable.
_PHONE = re.compile(r"(?<![\w+])\+\d(?:[\s().-]{0,2}\d){6,}")
# PostgreSQL's DETAIL: `Key (email)=(jane@example.com) already exists.`
_KEY_DETAIL = re.compile(r"(?P<key>\((?:[^()]*)\))=\((?:[^()]*)\)")
# A random secret: 32+ characters of a base64 alphabet mixing upper case, lower case and digits. Hex ids and
# UUIDs have no upper case and stay readable.
_LONG_SECRET = re.compile(r"(?<![\w+/=-])(?=[\w+/=-]*[A-Z])(?=[\w+/=-]*[a-z])(?=[\w+/=-]*\d)[\w+/=-]{32,}")
# `key=value`, `key: value`, `'key': 'value'`, `"key": "value"`; the key decides whether the value goes. An
# unquoted value stops at an opening bracket, so a nested repr (`ship_to=Address(recipient_name='…')`) is
# not swallowed whole as the value of a harmless key.
_PAIR = re.compile(
    r"""(?P<key>["']?[A-Za-z_][\w.-]*["']?)(?P<sep>\s*[:=]\s*)"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;(){}\[\]]+)"""
)


class Scrubber:
    """Scrubs text of secrets, emails and the values of `redact_keys` (the PII field names a service passes)."""

    def __init__(self, redact_keys: Iterable[str] = ()) -> None:
        self._redact = frozenset(k.lower() for k in redact_keys)

    def is_sensitive(self, key: str) -> bool:
        lowered = key.lower()
        return lowered in self._redact or any(m in lowered for m in SECRET_MARKERS)

    def text(self, text: str) -> str:
        text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
        text = _BEARER.sub(lambda m: f"{m[1]} {REDACTED}", text)
        text = _LWA_TOKEN.sub(REDACTED, text)
        text = _JWT.sub(REDACTED, text)
        text = _KEY_DETAIL.sub(lambda m: f"{m['key']}=({REDACTED})", text)
        text = _PAIR.sub(self._pair, text)
        text = _EMAIL.sub(REDACTED, text)
        text = _PHONE.sub(REDACTED, text)
        return _LONG_SECRET.sub(REDACTED, text)

    def _pair(self, match: re.Match[str]) -> str:
        if not self.is_sensitive(match["key"].strip("'\"")):
            return match[0]
        quote = match["value"][0] if match["value"][0] in "'\"" else ""
        return f"{match['key']}{match['sep']}{quote}{REDACTED}{quote}"

    def message(self, exc: BaseException) -> str:
        """The exception's own text: validation errors as locations and messages only, the rest scrubbed."""
        if isinstance(exc, ValidationError):
            errors: list[Any] = exc.errors(include_input=False, include_url=False, include_context=False)
            return self.text(_summarise(errors, f"{exc.error_count()} validation error(s) for {exc.title}"))
        if isinstance(exc, ValidationException):
            errors = [{k: v for k, v in e.items() if k in ("loc", "msg")} for e in exc.errors()]
            return self.text(_summarise(errors, f"{len(errors)} validation error(s)"))
        return self.text(str(exc))

    def traceback(self, exc: BaseException) -> str:
        """A traceback as Python prints it (chained causes, groups), each message passed through `message`."""
        return "".join(self._lines(exc, set())).rstrip("\n")

    def _lines(self, exc: BaseException, seen: set[int]) -> list[str]:
        seen.add(id(exc))
        lines: list[str] = []
        if exc.__cause__ is not None and id(exc.__cause__) not in seen:
            lines += self._lines(exc.__cause__, seen)
            lines.append("\nThe above exception was the direct cause of the following exception:\n\n")
        elif exc.__context__ is not None and not exc.__suppress_context__ and id(exc.__context__) not in seen:
            lines += self._lines(exc.__context__, seen)
            lines.append("\nDuring handling of the above exception, another exception occurred:\n\n")
        if exc.__traceback__ is not None:
            lines.append("Traceback (most recent call last):\n")
            lines += traceback.format_tb(exc.__traceback__)
        name = type(exc).__qualname__
        module = type(exc).__module__
        qualified = name if module in ("builtins", "__main__") else f"{module}.{name}"
        message = self.message(exc)
        lines.append(f"{qualified}: {message}\n" if message else f"{qualified}\n")
        if isinstance(exc, BaseExceptionGroup):
            for i, sub in enumerate(exc.exceptions, 1):
                lines.append(f"+-- {i} --\n")
                lines += ["  " + line for line in "".join(self._lines(sub, seen)).splitlines(keepends=True)]
        return lines


def _summarise(errors: list[Any], heading: str) -> str:
    parts = [f"{'.'.join(str(p) for p in e.get('loc', ())) or '(root)'}: {e.get('msg', '')}" for e in errors[:10]]
    more = f"; and {len(errors) - 10} more" if len(errors) > 10 else ""
    return f"{heading}: " + "; ".join(parts) + more
