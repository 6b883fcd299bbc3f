"""Per-connection settings: the defaults of the reference products, and validation that names each bad field."""

from __future__ import annotations

from typing import Any

import servicekit
from contracts import ConnectionSettingsV1
from pydantic import ValidationError

# Defaults: stock daily at local midnight, 15-minute order polling, unshipped orders only, seller SKUs
# (ARCHITECTURE.md "Behaviours"); 2 days is Amazon's default handling time.
DEFAULT_SETTINGS: dict[str, Any] = {
    "stock_warehouse_ids": [],
    "handling_time_days": 2,
    "stock_cadence": {"mode": "daily", "local_time": "00:00", "timezone": "UTC"},
    "order_import": "unshipped_only",
    "product_code": "seller_sku",
    "ship_method_mapping": {},
    "carrier_mapping": {},
    "order_poll_interval_minutes": 15,
    "fba_handling": False,
}


class InvalidSettings(servicekit.Problem):
    """422 naming each refused field (`errors`: `{field, message}`), never the value sent."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        detail = "invalid input: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        super().__init__(422, detail, errors=errors)
        self.errors = errors


def validate_settings(raw: dict[str, Any], prefix: str = "settings") -> ConnectionSettingsV1:
    """`raw` as the contract's settings; errors name fields under `prefix` (the path the client wrote)."""
    unknown = sorted(set(raw) - set(ConnectionSettingsV1.model_fields))
    if unknown:
        named = [".".join(filter(None, [prefix, name])) for name in unknown]
        raise InvalidSettings([{"field": field, "message": "unknown setting"} for field in named])
    try:
        return ConnectionSettingsV1.model_validate(raw)
    except ValidationError as exc:
        raise InvalidSettings(servicekit.field_errors(exc, prefix=prefix, body=raw)) from None


def merge(current: dict[str, Any], patch: dict[str, Any], prefix: str = "settings") -> ConnectionSettingsV1:
    """A top-level merge: each setting in `patch` replaces the current one whole (maps and sets included)."""
    return validate_settings({**current, **patch}, prefix)


def initial(overrides: dict[str, Any] | None) -> ConnectionSettingsV1:
    return merge(DEFAULT_SETTINGS, overrides or {})
