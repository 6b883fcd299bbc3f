"""Constrained field types shared by the payloads, so every topic spells a SKU or a timestamp the same way."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import CoreSchema, core_schema

__all__ = [
    "AmazonOrderId",
    "Asin",
    "ConnectionId",
    "OrderItemId",
    "PositiveQuantity",
    "Quantity",
    "SellingPartnerId",
    "Sku",
    "Text",
    "Timestamp",
    "WarehouseId",
]

_TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
_TIMESTAMP_RE = re.compile(_TIMESTAMP_PATTERN)


def _timestamp_input(value: Any) -> Any:
    # Pydantic would also take epoch numbers and a few looser string forms; publishers validating with the
    # JSON Schema cannot, so both sides accept exactly RFC 3339 with an explicit offset.
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _TIMESTAMP_RE.match(value):
        return value
    raise ValueError("must be an RFC 3339 timestamp with a timezone offset, e.g. 2026-08-06T15:04:05Z")


class _RfcTimestamp:
    """From JSON, the RFC 3339 check and the parse both run inside pydantic-core (no Python call per value: this
    is on every consumed event's hot path); from Python, `_timestamp_input` also lets datetime objects through.
    Both accept exactly the same strings; the Python path words the error, and decode's slow path uses it."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.json_or_python_schema(
            json_schema=core_schema.chain_schema(
                [core_schema.str_schema(pattern=_TIMESTAMP_PATTERN), core_schema.datetime_schema(tz_constraint="aware")]
            ),
            python_schema=core_schema.no_info_before_validator_function(_timestamp_input, handler(source)),
        )


Timestamp = Annotated[
    AwareDatetime,
    _RfcTimestamp(),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": _TIMESTAMP_PATTERN}),
]
"""A timezone-aware instant; naive timestamps are rejected because the WMS, Amazon and we sit in different zones."""

Sku = Annotated[
    str,
    StringConstraints(min_length=1, max_length=40),
    Field(description="Seller SKU: 1 to 40 characters (Amazon's limit)."),
]


def _shaped(pattern: str, hint: str) -> BeforeValidator:
    # The StringConstraints pattern goes into the JSON Schema; this check runs first so that pydantic's
    # error says what the value should look like instead of quoting the regex.
    compiled = re.compile(pattern)

    def check(value: Any) -> Any:
        if isinstance(value, str) and not compiled.match(value):
            raise ValueError(f"must look like {hint}")
        return value

    return BeforeValidator(check)


_ASIN = r"^[0-9A-Z]{10}$"
_ORDER_ID = r"^\d{3}-\d{7}-\d{7}$"
_ORDER_ITEM_ID = r"^\d{1,20}$"
_CONNECTION_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
_SELLER_ID = r"^[A-Z0-9]{8,20}$"

Asin = Annotated[
    str,
    StringConstraints(pattern=_ASIN),
    _shaped(_ASIN, "an ASIN: 10 upper-case letters or digits, e.g. B07XJ8C8F5"),
    Field(description="Amazon ASIN."),
]
AmazonOrderId = Annotated[
    str,
    StringConstraints(pattern=_ORDER_ID),
    _shaped(_ORDER_ID, "an Amazon order id: 3-7-7 digits, e.g. 113-8871264-0934622"),
    Field(description="Amazon order id, 3-7-7 digits."),
]
OrderItemId = Annotated[
    str,
    StringConstraints(pattern=_ORDER_ITEM_ID),
    _shaped(_ORDER_ITEM_ID, "an Amazon order item id: digits only, e.g. 79039765272157"),
    Field(description="Amazon order item id (digits)."),
]
ConnectionId = Annotated[
    str,
    StringConstraints(pattern=_CONNECTION_ID),
    _shaped(_CONNECTION_ID, "a connection id: up to 64 letters, digits and _.:-"),
    Field(description="Id of a seller connection in connector-auth."),
]
SellingPartnerId = Annotated[
    str,
    StringConstraints(pattern=_SELLER_ID),
    _shaped(_SELLER_ID, "an Amazon seller id: 8-20 upper-case letters or digits"),
    Field(description="Amazon seller (merchant) id, recorded at consent."),
]
WarehouseId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    Field(description="Warehouse id in the seller's WMS."),
]
Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]

# Strict: "5" or true would slip through pydantic's lax mode but not a publisher's JSON Schema validator.
Quantity = Annotated[StrictInt, Field(ge=0, description="Integer count, 0 or more.")]
PositiveQuantity = Annotated[StrictInt, Field(ge=1, description="Integer count, 1 or more.")]
