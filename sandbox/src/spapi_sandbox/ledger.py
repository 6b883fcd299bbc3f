"""Every change Amazon accepted, in order, so tests can assert what Amazon saw and how often."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from spapi_sandbox.state import iso, utcnow

# kind: "quantity" | "handling_time" | "fulfillment_channel" | "listing_deleted" | "shipment" | "shipment_update"
# source: "feed" | "patchListingsItem" | "putListingsItem" | "confirmShipment"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    seq: int
    at: str
    kind: str
    seller_id: str
    source: str
    ref: str
    sku: str | None = None
    order_id: str | None = None
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Ledger:
    def __init__(self) -> None:
        self._entries: list[Entry] = []
        self._seq = itertools.count(1)

    def record(self, *, kind: str, seller_id: str, source: str, ref: str, **fields: Any) -> Entry:
        entry = Entry(
            seq=next(self._seq), at=iso(utcnow()), kind=kind, seller_id=seller_id, source=source, ref=ref, **fields
        )
        self._entries.append(entry)
        return entry

    def query(
        self,
        *,
        seller_id: str | None = None,
        sku: str | None = None,
        kind: str | None = None,
        order_id: str | None = None,
    ) -> list[Entry]:
        return [
            e
            for e in self._entries
            if (seller_id is None or e.seller_id == seller_id)
            and (sku is None or e.sku == sku)
            and (kind is None or e.kind == kind)
            and (order_id is None or e.order_id == order_id)
        ]

    def clear(self) -> None:
        self._entries.clear()
