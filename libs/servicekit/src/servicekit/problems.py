"""One error body for every admin API: RFC 9457 problem details (`application/problem+json`).

A service raises `Problem(404, "no such sync run")`; FastAPI's HTTPException, request validation errors and
unhandled exceptions become problems too, so a client parses one shape whatever went wrong. Validation errors name
the fields and never quote what was sent: the value may be a token or a buyer's address.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
_STANDARD = frozenset({"type", "title", "status", "detail", "instance"})
# A fuzzer can send ten thousand bad items; the body names enough of them to act on.
_MAX_ERRORS = 100
_DETAIL_ERRORS = 5
_REF = "#/components/schemas/"
# The security scheme `require_role` declares; its operations may answer 403 as well as 401.
ADMIN_AUTH_SCHEME = "AdminToken"


class ProblemFieldError(BaseModel):
    """One thing wrong with the request, located without repeating the value that was sent."""

    field: str = Field(description="Dotted path as sent, e.g. `marketplace_ids.0`, or a parameter name; `body`")
    message: str = Field(description="What is wrong, never the value that was sent")
    pointer: str | None = Field(default=None, description="JSON Pointer into the request body, e.g. `#/name`")
    in_: Literal["body", "query", "path", "header", "cookie"] | None = Field(default=None, alias="in")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details; services may add members (e.g. `errors`, `retry_after_seconds`)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", description="URI naming the kind of problem; about:blank = the status")
    title: str = Field(description="Short summary of the kind of problem")
    status: int = Field(ge=400, le=599)
    detail: str | None = Field(default=None, description="What went wrong this time, for a human")
    instance: str | None = None
    errors: list[ProblemFieldError] | None = Field(
        default=None, description="Each invalid field, when input was refused"
    )


class ProblemResponse(JSONResponse):
    media_type = MEDIA_TYPE


class Problem(Exception):
    """Raise from a route or dependency to answer with a problem body; `extra` members join the body."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        type: str = "about:blank",
        instance: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"a problem has a 4xx or 5xx status, not {status}")
        super().__init__(detail or _phrase(status))
        self.status = status
        self.detail = detail
        self.title = title or _phrase(status)
        self.type = type
        self.instance = instance
        self.headers = dict(headers or {})
        self.extra = extra

    @classmethod
    def invalid(cls, errors: Sequence[Mapping[str, Any]], *, status: int = 422) -> Problem:
        """Refused input: `errors` as `{field, message}` items; the detail lists the first few."""
        return cls(status, _summary(errors), errors=[dict(e) for e in errors[:_MAX_ERRORS]])

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail is not None:
            body["detail"] = self.detail
        if self.instance is not None:
            body["instance"] = self.instance
        body.update(jsonable_encoder(self.extra))
        return body

    def response(self) -> ProblemResponse:
        return ProblemResponse(self.body(), status_code=self.status, headers=self.headers)


def field_errors(
    exc: ValidationError | RequestValidationError, *, prefix: str = "", body: Any = None
) -> list[dict[str, str]]:
    """Pydantic errors as `{field, message[, pointer, in]}`, never with the input they refused.

    `body` (the JSON that was sent) lets the path skip pydantic's hops that are not JSON keys (union members,
    tagged-union tags), so `field` is the path the client wrote.
    """
    found: list[dict[str, str]] = []
    for error in exc.errors():
        loc = list(error["loc"])
        where: str | None = None
        if isinstance(exc, RequestValidationError) and loc and loc[0] in ("body", "query", "path", "header", "cookie"):
            where = str(loc.pop(0))
        path = _json_path(loc, body if where in (None, "body") else None)
        item = {
            "field": ".".join(filter(None, [prefix, *map(str, path)])) or prefix or "body",
            "message": _without_input(str(error["msg"]), error.get("input")),
        }
        if where in (None, "body") and isinstance(exc, RequestValidationError):
            item["pointer"] = "#" + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)
        if where is not None:
            item["in"] = where
        if item not in found:  # a value failing every member of a union is one problem, not one per member
            found.append(item)
    return found


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """For a route's `responses=`: the statuses it answers with a problem body, e.g. `problem_responses(404, 409)`."""
    return {s: _problem_response(_phrase(s)) for s in statuses}


def install_problem_handlers(app: FastAPI) -> None:
    """Every error the app answers becomes a problem body; OpenAPI declares that body for them."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(RequestValidationError, _on_request_invalid)
    # Inside any middleware added later: a bug is answered and logged once here, not again by the server.
    app.add_middleware(_UnhandledErrors)
    _declare_in_openapi(app)


async def _on_problem(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return exc.response()


async def _on_http_exception(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    extra: dict[str, Any] = {}
    detail = exc.detail if isinstance(exc.detail, str) else None
    if isinstance(exc.detail, Mapping):
        extra = {str(k): v for k, v in exc.detail.items() if k not in _STANDARD}
    if exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    return Problem(exc.status_code, detail, headers=exc.headers, **extra).response()


async def _on_request_invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return Problem.invalid(field_errors(exc, body=exc.body)).response()


class _UnhandledErrors:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self._app(scope, receive, watch)
        except Exception:
            error_id = uuid.uuid4().hex
            route = scope.get("route")
            log.exception(
                "unhandled error answering %s %s",
                scope.get("method"),
                getattr(route, "path", "unmatched route"),
                extra={"error_id": error_id},
            )
            if started:
                raise
            # No exception text: it can name tables, paths or the input that tripped the bug.
            problem = Problem(500, f"the request failed unexpectedly; the error is logged as {error_id}")
            await problem.response()(scope, receive, send)


def _declare_in_openapi(app: FastAPI) -> None:
    generate = app.openapi
    declared: list[int] = []  # id of the schema already amended; FastAPI regenerates when routes change

    def openapi() -> dict[str, Any]:
        schema = generate()
        if declared and declared[0] == id(schema):
            return schema
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        models = ProblemDetails.model_json_schema(ref_template=_REF + "{model}")
        schemas.update(models.pop("$defs", {}))
        schemas["ProblemDetails"] = models
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                _declare_for(operation)
        _drop_unused(schema, ("HTTPValidationError", "ValidationError"))
        declared[:] = [id(schema)]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _declare_for(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "422" in responses:
        responses["422"] = _problem_response("Invalid input: each refused field is named in `errors`")
    if "requestBody" in operation:
        # FastAPI answers 400 itself when the body cannot be read at all (e.g. not UTF-8).
        responses.setdefault("400", _problem_response("The body could not be parsed"))
    schemes = {name for requirement in operation.get("security", []) for name in requirement}
    if schemes:
        responses.setdefault("401", _problem_response(_phrase(401)))
    if ADMIN_AUTH_SCHEME in schemes:
        responses.setdefault("403", _problem_response("The token's role may not do this"))
    responses.setdefault("500", _problem_response(_phrase(500)))


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {MEDIA_TYPE: {"schema": {"$ref": _REF + "ProblemDetails"}}}}


def _drop_unused(schema: dict[str, Any], names: Iterable[str]) -> None:
    schemas = schema.get("components", {}).get("schemas", {})
    for name in names:
        if name in schemas:
            rest = {k: v for k, v in schemas.items() if k != name}
            text = json.dumps({**schema, "components": {**schema["components"], "schemas": rest}})
            if f'"{_REF}{name}"' not in text:
                del schemas[name]


def _json_path(loc: list[Any], body: Any) -> list[Any]:
    if body is None:
        return [p for p in loc if p != "[key]"]
    path: list[Any] = []
    current = body
    for i, hop in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(current, dict) and hop in current:
            path.append(hop)
            current = current[hop]
        elif isinstance(current, list) and isinstance(hop, int) and 0 <= hop < len(current):
            path.append(hop)
            current = current[hop]
        elif last and isinstance(current, dict) and hop != "[key]" and "[" not in str(hop):
            # A missing member: not in the body, but the client must add it here.
            path.append(hop)
        # Anything else is pydantic's own hop (a union member or a tag) and is not part of the client's JSON.
    return path


def _without_input(message: str, value: Any) -> str:
    # Custom validators sometimes quote what they refused; a value of four characters or more is cut out.
    if isinstance(value, str) and len(value) >= 4 and value in message:
        message = message.replace(value, "<input>")
    return message.removeprefix("Value error, ")


def _summary(errors: Sequence[Mapping[str, Any]]) -> str:
    shown = "; ".join(f"{e.get('field', 'body')}: {e.get('message', '')}" for e in errors[:_DETAIL_ERRORS])
    more = len(errors) - _DETAIL_ERRORS
    return f"invalid input: {shown}" + (f"; and {more} more" if more > 0 else "")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Client Error" if status < 500 else "Server Error"
