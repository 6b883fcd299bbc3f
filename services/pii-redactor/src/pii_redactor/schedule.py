"""When an order's retention clock starts, as a pure rule the handlers apply to each event.

The clock starts at the first of completion, cancellation and shipment confirmation. A shipment confirmed after
the clock started is a fulfilment again (a replacement, a reshipment), so the clock restarts from it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

Source = Literal["completed", "cancelled", "shipment"]


def after_closing(start: datetime | None, source: str | None, at: datetime, kind: Source) -> tuple[datetime, str]:
    """Completion or cancellation: starts a clock that has not started, or an earlier one if events came late."""
    if start is None or (at < start and source != "shipment"):
        return at, kind
    return start, str(source)


def after_shipment(start: datetime | None, source: str | None, at: datetime) -> tuple[datetime, str]:
    """An accepted shipment confirmation starts the clock, or restarts it when it is later than the start."""
    if start is None or at > start:
        return at, "shipment"
    return start, str(source)
