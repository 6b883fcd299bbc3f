"""The PII marker on payload fields and the one list of PII fields that pii-redactor and the log scrubber share.

The list is read back from the exported JSON Schema (`x-pii: true`), so Python services and publishers in
other languages see exactly the same classification.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue

if TYPE_CHECKING:
    from pydantic_core import CoreSchema

__all__ = ["PII_SCHEMA_KEY", "Pii", "all_pii_field_names", "pii_fields"]

PII_SCHEMA_KEY = "x-pii"


class Pii:
    """Annotated marker: `buyer_name: Annotated[str | None, Pii()]`. Put it on the whole (optional) type."""

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema[PII_SCHEMA_KEY] = True
        return schema

    def __repr__(self) -> str:
        return "Pii()"


@cache
def _pii_fields(payload_type: type[BaseModel]) -> tuple[str, ...]:
    schema = payload_type.model_json_schema()
    defs: dict[str, Any] = schema.get("$defs", {})
    found: list[str] = []
    _walk(schema, "", defs, found, frozenset())
    return tuple(dict.fromkeys(found))


def pii_fields(payload_type: type[BaseModel]) -> list[str]:
    """Dotted paths of the PII fields of a payload, e.g. `ship_to.address_line1`.

    A segment naming a list or a mapping applies to each of its elements (`lines.gift_message`).
    """
    return list(_pii_fields(payload_type))


def all_pii_field_names() -> frozenset[str]:
    """Leaf names of every PII field on every topic, for scrubbing log records by key."""
    # Imported here because the payload modules import this module for the marker.
    from contracts.topics import TOPICS

    return frozenset(path.rsplit(".", 1)[-1] for spec in TOPICS for path in pii_fields(spec.payload))


def _walk(node: Any, path: str, defs: dict[str, Any], found: list[str], seen: frozenset[str]) -> None:
    if not isinstance(node, dict):
        return
    if node.get(PII_SCHEMA_KEY) is True and path:
        found.append(path)
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        if name not in seen:
            _walk(defs[name], path, defs, found, seen | {name})
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in node.get(key, []):
            _walk(branch, path, defs, found, seen)
    for key in ("items", "additionalProperties"):
        _walk(node.get(key), path, defs, found, seen)
    for name, sub in node.get("properties", {}).items():
        _walk(sub, f"{path}.{name}" if path else name, defs, found, seen)
