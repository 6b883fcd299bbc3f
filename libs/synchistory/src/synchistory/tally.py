"""Outcomes of one batch of records, and error texts that never quote a record's values."""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field

from pydantic import ValidationError


@dataclass(frozen=True, slots=True)
class RecordError:
    record_key: str | None  # an order id, a SKU, a shipment id; None when the record had none
    error: str


@dataclass(slots=True)
class Tally:
    """Counts of one batch, written with `SyncHistory.record` in the batch's transaction.

    `succeeded` and `failed` are the lib's; `counts` holds the service's finer names (e.g. published, unchanged).
    """

    succeeded: int = 0
    failed: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[RecordError] = field(default_factory=list)

    def count(self, name: str, n: int = 1) -> None:
        """A count that is not an outcome, e.g. records fetched."""
        self.counts[name] = self.counts.get(name, 0) + n

    def success(self, kind: str | None = None) -> None:
        self.succeeded += 1
        if kind is not None:
            self.count(kind)

    def failure(self, record_key: str | None, error: str) -> None:
        """`error` must not quote the record's values (it is shown to operators and may reach logs)."""
        self.failed += 1
        self.errors.append(RecordError(record_key, error))

    def unexpected(self, record_key: str | None, exc: BaseException) -> None:
        """A record that raised what nobody expected: failed, with the error's type and place, not its text."""
        self.failure(record_key, describe(exc))


def describe(exc: BaseException) -> str:
    """An unexpected error in words that never quote input: pydantic errors by location and kind, any other
    exception by type and the line that raised it (its message may carry the very value that broke it)."""
    if isinstance(exc, ValidationError):
        parts = [
            f"{'.'.join(str(p) for p in e['loc']) or '(value)'}: {e['type']}"
            for e in exc.errors(include_url=False, include_input=False, include_context=False)[:10]
        ]
        return f"unexpected data ({exc.error_count()} errors): {'; '.join(parts)}"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {_short(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return f"unexpected {type(exc).__name__}{where}"


def _short(filename: str) -> str:
    # site-packages/orders_ingest/domain.py -> orders_ingest/domain.py: enough to find it, no host paths.
    parts = filename.replace("\\", "/").split("/")
    return "/".join(parts[-2:])
