"""Errors raised when bytes or objects do not satisfy a contract; messages always name the failing field."""

from __future__ import annotations

from typing import TypedDict

from pydantic import ValidationError

__all__ = ["ContractError", "FieldError", "UnknownTopicError"]


class FieldError(TypedDict):
    field: str
    message: str


class ContractError(ValueError):
    """An event or payload that breaks its contract. Consumers route it to their dead-letter topic."""

    def __init__(self, context: str, errors: list[FieldError]) -> None:
        self.context = context
        self.errors = errors
        details = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors)
        super().__init__(f"{context}: {details}" if details else context)

    @classmethod
    def from_validation_error(cls, context: str, exc: ValidationError, prefix: str = "") -> ContractError:
        return cls(context, field_errors(exc, prefix))


class UnknownTopicError(KeyError):
    """A topic name missing from the registry: a configuration bug, so it is not a ContractError."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        super().__init__(name)
        self._message = f"unknown topic {name!r}; known topics: {', '.join(known)}"

    def __str__(self) -> str:
        # KeyError.__str__ would print the repr of the key; the list of known topics is more useful.
        return self._message


_FRIENDLY = {
    "extra_forbidden": "unknown field (not in the contract)",
    "missing": "required field is missing",
}


def field_errors(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """Flatten pydantic errors to dotted field paths (list indexes included) with readable messages."""
    result: list[FieldError] = []
    for err in exc.errors(include_url=False):
        parts = [prefix] if prefix else []
        parts.extend(str(p) for p in err["loc"])
        message = _FRIENDLY.get(err["type"], err["msg"])
        message = message.removeprefix("Value error, ")
        result.append({"field": ".".join(parts), "message": message})
    return result
