"""Per-connection settings: the defaults of the reference products, and validation that names each bad field."""

from __future__ import annotations

from typing import Any

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


# Pydantic location hops that are not JSON keys: tagged-union tags and the "[key]" marker of dict keys.
_NOT_FIELDS = frozenset({"daily", "interval", "near_real_time", "[key]"})


class InvalidSettings(Exception):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def field_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """Pydantic errors as `{field, message}`, the field spelt as a dotted path the operator sent."""
    errors = []
    for error in exc.errors():
        # Drop pydantic's tagged-union hops (e.g. `daily`) so the path matches the JSON sent.
        path = [str(p) for p in error["loc"] if p not in _NOT_FIELDS]
        field = ".".join(filter(None, [prefix, *path])) or prefix or "body"
        errors.append({"field": field, "message": error["msg"].removeprefix("Value error, ")})
    return errors


def validate_settings(raw: dict[str, Any]) -> ConnectionSettingsV1:
    unknown = sorted(set(raw) - set(ConnectionSettingsV1.model_fields))
    if unknown:
        raise InvalidSettings([{"field": f"settings.{name}", "message": "unknown setting"} for name in unknown])
    try:
        return ConnectionSettingsV1.model_validate(raw)
    except ValidationError as exc:
        raise InvalidSettings(field_errors(exc, "settings")) from None


def merge(current: dict[str, Any], patch: dict[str, Any]) -> ConnectionSettingsV1:
    """A top-level merge: each setting in `patch` replaces the current one whole (maps and sets included)."""
    return validate_settings({**current, **patch})


def initial(overrides: dict[str, Any] | None) -> ConnectionSettingsV1:
    return merge(DEFAULT_SETTINGS, overrides or {})
