"""GET_MERCHANT_LISTINGS_ALL_DATA: the tab-separated listings file, read by column name.

Columns differ by marketplace and change over time, so nothing depends on their position: a column we do not
know is ignored, an optional one that is missing reads as empty. A row that cannot be read is a failure of that
row (with its SKU when it has one), never of the file; only a file without `seller-sku` is unusable.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

REQUIRED = ("seller-sku",)
MAX_SKU = 40

# Amazon's item-condition codes in the flat file, as Listings Items names conditions.
CONDITIONS = {
    "1": "used_like_new",
    "2": "used_very_good",
    "3": "used_good",
    "4": "used_acceptable",
    "5": "collectible_like_new",
    "6": "collectible_very_good",
    "7": "collectible_good",
    "8": "collectible_acceptable",
    "10": "refurbished",
    "11": "new_new",
}
STATUSES = {"active": "BUYABLE", "inactive": "INACTIVE", "incomplete": "INCOMPLETE"}


class ReportUnusable(ValueError):
    """The file as a whole cannot be read (no header, no seller-sku column)."""


@dataclass(frozen=True, slots=True)
class ReportRow:
    line: int
    sku: str
    row_hash: str
    title: str | None
    asin: str | None
    price: Decimal | None
    quantity: int | None
    condition: str | None
    fulfillment_channel: str  # MFN or FBA
    status: str
    opened: datetime | None


@dataclass(frozen=True, slots=True)
class RowFailure:
    line: int
    sku: str | None
    error: str  # names the column, never its value


@dataclass(frozen=True, slots=True)
class ParsedReport:
    rows: list[ReportRow]
    failures: list[RowFailure]
    columns: list[str]


class _Bad(ValueError):
    pass


def parse(text: str) -> ParsedReport:
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise ReportUnusable("the listings report has no header line")
    # QUOTE_NONE: Amazon's flat files are not CSV-quoted; a '"' in a title is just a character.
    reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = [h.strip().lstrip("\ufeff").lower() for h in next(reader)]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ReportUnusable(f"the listings report has no {', '.join(missing)} column")
    index = {name: i for i, name in reversed(list(enumerate(header)))}
    rows: list[ReportRow] = []
    failures: list[RowFailure] = []
    for number, fields in enumerate(reader, start=2):
        if not fields or all(not f.strip() for f in fields):
            continue
        sku = _field(fields, index, "seller-sku")
        if len(fields) != len(header):
            failures.append(RowFailure(number, _safe_sku(sku), f"row has {len(fields)} fields, header {len(header)}"))
            continue
        try:
            rows.append(_row(number, fields, index, sku))
        except _Bad as exc:
            failures.append(RowFailure(number, _safe_sku(sku), str(exc)))
    return ParsedReport(rows=rows, failures=failures, columns=header)


def _safe_sku(sku: str | None) -> str | None:
    return sku if sku and len(sku) <= MAX_SKU else None


def _field(fields: list[str], index: dict[str, int], name: str) -> str | None:
    i = index.get(name)
    if i is None or i >= len(fields):
        return None
    value = fields[i].strip()
    return value or None


def _row(number: int, fields: list[str], index: dict[str, int], sku: str | None) -> ReportRow:
    if sku is None:
        raise _Bad("seller-sku is empty")
    if len(sku) > MAX_SKU:
        raise _Bad(f"seller-sku is longer than {MAX_SKU} characters")
    get = lambda name: _field(fields, index, name)  # noqa: E731
    price_text = get("price")
    price: Decimal | None = None
    if price_text is not None:
        try:
            price = Decimal(price_text.replace(",", "."))
        except InvalidOperation:
            raise _Bad("price is not a number") from None
        if not price.is_finite() or price < 0:
            raise _Bad("price is not a non-negative amount")
    quantity_text = get("quantity")
    quantity: int | None = None
    if quantity_text is not None:
        if not quantity_text.isdigit():
            raise _Bad("quantity is not a whole number of 0 or more")
        quantity = int(quantity_text)
    channel_text = (get("fulfillment-channel") or "DEFAULT").upper()
    channel = "FBA" if channel_text.startswith("AMAZON") else "MFN"
    status_text = (get("status") or "active").lower()
    status = STATUSES.get(status_text)
    if status is None:
        raise _Bad("status is not Active, Inactive or Incomplete")
    condition_code = get("item-condition")
    # product-id-type 1 means product-id is the ASIN; asin1 is the ASIN in every marketplace's file.
    asin = get("asin1") or (get("product-id") if get("product-id-type") == "1" else None)
    digest = hashlib.sha256("\x1f".join(fields).encode()).hexdigest()
    return ReportRow(
        line=number,
        sku=sku,
        row_hash=digest,
        title=(get("item-name") or None),
        asin=asin if asin and len(asin) == 10 and asin.isalnum() and asin.isupper() else None,
        price=price,
        quantity=quantity if channel == "MFN" else None,
        condition=CONDITIONS.get(condition_code, condition_code) if condition_code else None,
        fulfillment_channel=channel,
        status=status,
        opened=_opened(get("open-date")),
    )


def _opened(text: str | None) -> datetime | None:
    # "2026-08-06 14:31:07 UTC" (or PST/PDT, BST, MEZ...: only UTC/GMT are unambiguous, the rest are dropped).
    if not text:
        return None
    parts = text.rsplit(" ", 1)
    if len(parts) != 2 or parts[1] not in ("UTC", "GMT"):
        return None
    try:
        return datetime.strptime(parts[0], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
