"""Amazon's official models, loaded and compiled once: the contract every request and response is held to.

Swagger 2.0 schemas are validated as JSON Schema draft 4 (their base), with `#/definitions/...` refs resolved
against the model file they come from. Feed documents and notifications use their own draft-07 schemas.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema

from spapi_sandbox.errors import ApiError

# The operations the sandbox serves, by model file. Only these are compiled.
SERVED: dict[str, tuple[str, ...]] = {
    "orders_2026-01-01.json": ("searchOrders", "getOrder"),
    "ordersV0.json": ("confirmShipment",),
    "feeds_2021-06-30.json": (
        "createFeedDocument",
        "createFeed",
        "getFeed",
        "getFeeds",
        "getFeedDocument",
        "cancelFeed",
    ),
    "listingsItems_2021-08-01.json": ("getListingsItem", "patchListingsItem", "putListingsItem"),
    "sellers.json": ("getMarketplaceParticipations",),
    "reports_2021-06-30.json": ("createReport", "getReport", "getReportDocument"),
    "fbaInventory.json": ("getInventorySummaries",),
    "notifications.json": (
        "createDestination",
        "getDestinations",
        "getDestination",
        "deleteDestination",
        "createSubscription",
        "getSubscription",
        "getSubscriptionById",
        "deleteSubscriptionById",
    ),
}

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_RFC3339_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# jsonschema only checks date-time when an optional package is installed; an unchecked format would let
# the confirmShipment sandbox example with shipDate "02/21/2022" through, so the check is explicit.
FORMAT_CHECKER = jsonschema.FormatChecker(formats=())


@FORMAT_CHECKER.checks("date-time")
def _is_date_time(value: object) -> bool:
    return not isinstance(value, str) or bool(_RFC3339.match(value))


@FORMAT_CHECKER.checks("date")
def _is_date(value: object) -> bool:
    return not isinstance(value, str) or bool(_RFC3339_DATE.match(value))


_SWAGGER_ONLY = {"name", "in", "required", "description", "collectionFormat", "allowEmptyValue", "default"}


def _param_schema(param: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in param.items() if k not in _SWAGGER_ONLY and not k.startswith("x-")}


def _error_text(error: jsonschema.ValidationError) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


@dataclasses.dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    location: str
    required: bool
    type: str | None
    item_type: str | None
    validator: jsonschema.protocols.Validator


@dataclasses.dataclass(frozen=True, slots=True)
class Operation:
    operation_id: str
    method: str
    path: str
    model: str
    parameters: tuple[Parameter, ...]
    body: jsonschema.protocols.Validator | None
    body_required: bool
    # status -> validator of the JSON body, or None when the model declares no body for that status
    responses: Mapping[int, jsonschema.protocols.Validator | None]
    sandbox_examples: tuple[dict[str, Any], ...]

    def parse_params(self, path_params: Mapping[str, str], query: Mapping[str, list[str]]) -> dict[str, Any]:
        """Typed parameters, or ApiError(400, InvalidInput) naming the first bad one."""
        parsed: dict[str, Any] = {}
        for param in self.parameters:
            if param.location == "path":
                raw: list[str] = [path_params[param.name]] if param.name in path_params else []
            elif param.location == "query":
                raw = list(query.get(param.name, []))
            else:
                continue
            if not raw or raw == [""]:
                if param.required:
                    raise ApiError.invalid_input(f"Missing required parameter '{param.name}'.")
                continue
            value = _convert(param, raw)
            errors = sorted(param.validator.iter_errors(value), key=lambda e: e.path)
            if errors:
                raise ApiError.invalid_input(f"Invalid value for '{param.name}': {_error_text(errors[0])}")
            parsed[param.name] = value
        return parsed

    def check_body(self, body: Any) -> None:
        if self.body is None:
            return
        if body is None:
            if self.body_required:
                raise ApiError.invalid_input("The request body is required.")
            return
        errors = sorted(self.body.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            raise ApiError.invalid_input(
                "The request body is invalid.", details="; ".join(_error_text(e) for e in errors[:5])
            )

    def response_problems(self, status: int, body: Any) -> list[str]:
        """Why a response breaks the model (empty when it conforms). Any entry is a sandbox bug."""
        if status not in self.responses:
            return [f"status {status} is not declared for {self.operation_id}"]
        validator = self.responses[status]
        if validator is None:
            return [] if body is None else [f"status {status} of {self.operation_id} declares no body"]
        if body is None:
            return [f"status {status} of {self.operation_id} requires a body"]
        return [_error_text(e) for e in validator.iter_errors(body)]


def _convert(param: Parameter, raw: list[str]) -> Any:
    if param.type == "array":
        items = [part for value in raw for part in value.split(",")]
        return [_scalar(param.name, param.item_type, item) for item in items]
    return _scalar(param.name, param.type, raw[-1])


def _scalar(name: str, kind: str | None, text: str) -> Any:
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        raise ApiError.invalid_input(f"Invalid value for '{name}': '{text}' is not a {kind}.") from None
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ApiError.invalid_input(f"Invalid value for '{name}': '{text}' is not a boolean.")
        return text.lower() == "true"
    return text


def _validator(schema: Mapping[str, Any], definitions: Mapping[str, Any]) -> jsonschema.protocols.Validator:
    # Wrapping keeps `#/definitions/...` resolvable from the root of the compiled schema.
    rooted = {"allOf": [schema], "definitions": definitions}
    return jsonschema.Draft4Validator(rooted, format_checker=FORMAT_CHECKER)


def _compile_model(name: str, document: Mapping[str, Any], wanted: tuple[str, ...]) -> list[Operation]:
    definitions = document.get("definitions", {})
    operations = []
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method, op in item.items():
            # Path items may carry extensions (notifications.json: `x-amzn-api-sandbox-only: true`).
            if method == "parameters" or not isinstance(op, dict) or op.get("operationId") not in wanted:
                continue
            params, body, body_required = [], None, False
            for raw in [*shared, *op.get("parameters", [])]:
                if raw["in"] == "body":
                    body = _validator(raw["schema"], definitions)
                    body_required = bool(raw.get("required"))
                    continue
                schema = _param_schema(raw)
                params.append(
                    Parameter(
                        name=raw["name"],
                        location=raw["in"],
                        required=bool(raw.get("required")),
                        type=raw.get("type"),
                        item_type=(raw.get("items") or {}).get("type"),
                        validator=jsonschema.Draft4Validator(schema, format_checker=FORMAT_CHECKER),
                    )
                )
            responses: dict[int, jsonschema.protocols.Validator | None] = {}
            examples = []
            for code, response in op["responses"].items():
                schema = response.get("schema")
                responses[int(code)] = _validator(schema, definitions) if schema else None
                for example in response.get("x-amzn-api-sandbox", {}).get("static", []):
                    examples.append({"status": int(code), **example})
            operations.append(
                Operation(
                    operation_id=op["operationId"],
                    method=method.upper(),
                    path=path,
                    model=name,
                    parameters=tuple(params),
                    body=body,
                    body_required=body_required,
                    responses=responses,
                    sandbox_examples=tuple(examples),
                )
            )
    return operations


@dataclasses.dataclass(frozen=True, slots=True)
class Models:
    operations: Mapping[str, Operation]
    listings_feed: jsonschema.protocols.Validator
    listings_feed_message: jsonschema.protocols.Validator
    processing_report: jsonschema.protocols.Validator
    order_change: jsonschema.protocols.Validator

    def __getitem__(self, operation_id: str) -> Operation:
        return self.operations[operation_id]


def _draft7(path: Path) -> jsonschema.protocols.Validator:
    schema = json.loads(path.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=FORMAT_CHECKER)


def load_models(models_dir: Path) -> Models:
    operations: dict[str, Operation] = {}
    for name, wanted in SERVED.items():
        document = json.loads((models_dir / name).read_text())
        for operation in _compile_model(name, document, wanted):
            operations[operation.operation_id] = operation
    missing = {op for ops in SERVED.values() for op in ops} - operations.keys()
    if missing:
        raise RuntimeError(f"operations missing from the models: {sorted(missing)}")
    return Models(
        operations=operations,
        listings_feed=_draft7(models_dir / "listings-feed-schema-v2.json"),
        listings_feed_message=_draft7(models_dir / "listings-feed-message-schema-v2.json"),
        processing_report=_draft7(models_dir / "listings-feed-processing-report-schema-v2.json"),
        order_change=_draft7(models_dir / "notification_OrderChange.json"),
    )
