import json
import logging
from typing import Annotated, Literal

import pytest
from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from servicekit import (
    Principal,
    Problem,
    Role,
    create_admin_app,
    field_errors,
    parse_admin_tokens,
    problem_responses,
    require_role,
)

TOKENS = "ana:viewer:viewer-token-0123456789,olu:operator:operator-token-0123456789"
EMAIL = "jane.doe@example.com"


class Daily(BaseModel):
    mode: Literal["daily"]
    local_time: str = Field(pattern=r"^\d\d:\d\d$")


class Every(BaseModel):
    mode: Literal["interval"]
    every_minutes: int = Field(ge=15)


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=10)
    email: str
    marketplace_ids: list[str] = Field(min_length=1)
    cadence: Annotated[Daily | Every, Field(discriminator="mode")] | None = None

    @field_validator("email")
    @classmethod
    def _looks_like_an_email(cls, value: str) -> str:
        # A careless validator that quotes its input: the problem body must not repeat it.
        if not value.endswith(".invalid"):
            raise ValueError(f"{value} is not an address we accept")
        return value


def _app() -> TestClient:
    router = APIRouter()

    @router.post("/admin/contacts", responses=problem_responses(409))
    async def create(
        body: Contact, _: Principal = Depends(require_role(Role.operator)), dry_run: bool = False
    ) -> dict[str, str]:
        return {"name": body.name}

    @router.get("/admin/runs/{run_id}", responses=problem_responses(404))
    async def run(run_id: int, limit: int = Query(default=10, ge=1, le=100)) -> dict[str, int]:
        raise HTTPException(404, "no such sync run")

    @router.post("/admin/connections/{connection_id}/test")
    async def test_connection(connection_id: str) -> None:
        raise Problem(
            429,
            "Amazon's quota for getMarketplaceParticipations is spent; try again shortly",
            headers={"Retry-After": "5"},
            retry_after_seconds=5,
        )

    @router.get("/admin/boom")
    async def boom() -> None:
        raise RuntimeError(f"cannot reach postgresql://connector:hunter2@db/x while writing {EMAIL}")

    app = create_admin_app("svc", checks={}, routers=[router], principals=parse_admin_tokens(SecretStr(TOKENS)))
    return TestClient(app, headers={"Authorization": "Bearer operator-token-0123456789"})


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["type"] == "about:blank" and body["title"]
    return body


def test_http_exceptions_become_problems() -> None:
    body = _problem(_app().get("/admin/runs/7"), 404)
    assert body == {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "no such sync run"}


def test_unknown_routes_and_methods_are_problems_too() -> None:
    client = _app()
    _problem(client.get("/admin/nothing-here"), 404)
    wrong_method = client.delete("/admin/runs/7")
    _problem(wrong_method, 405)
    assert wrong_method.headers["allow"] == "GET"


def test_a_raised_problem_keeps_its_headers_and_extra_members() -> None:
    response = _app().post("/admin/connections/c-1/test")
    body = _problem(response, 429)
    assert response.headers["retry-after"] == "5"
    assert body["retry_after_seconds"] == 5 and "quota" in body["detail"]


def test_refused_input_names_every_field_and_never_repeats_a_value() -> None:
    response = _app().post(
        "/admin/contacts?dry_run=maybe",
        json={
            "name": "x" * 11,
            "email": EMAIL,
            "marketplace_ids": [],
            "cadence": {"mode": "interval", "every_minutes": 5},
            "colour": "blue",
        },
    )
    body = _problem(response, 422)
    errors = {e["field"]: e for e in body["errors"]}
    assert set(errors) == {"name", "email", "marketplace_ids", "cadence.every_minutes", "colour", "dry_run"}
    assert errors["cadence.every_minutes"]["pointer"] == "#/cadence/every_minutes"
    assert errors["cadence.every_minutes"]["in"] == "body"
    assert errors["dry_run"]["in"] == "query" and "pointer" not in errors["dry_run"]
    assert "at most 10 characters" in errors["name"]["message"]
    assert body["detail"].startswith("invalid input: ")
    # Neither the email nor the overlong name nor the query value appears anywhere in the answer.
    assert EMAIL not in response.text and "x" * 11 not in response.text and "maybe" not in response.text


def test_a_missing_member_is_named_where_it_belongs() -> None:
    response = _app().post("/admin/contacts", json={"name": "n", "email": "a@b.invalid", "cadence": {"mode": "daily"}})
    errors = {e["field"]: e for e in _problem(response, 422)["errors"]}
    assert set(errors) == {"marketplace_ids", "cadence.local_time"}
    assert errors["cadence.local_time"]["pointer"] == "#/cadence/local_time"
    assert errors["marketplace_ids"]["message"] == "Field required"


def test_a_body_that_is_not_json_is_refused_as_a_whole() -> None:
    response = _app().post("/admin/contacts", content=b'{"name": "Jane', headers={"content-type": "application/json"})
    body = _problem(response, 422)
    assert [e["field"] for e in body["errors"]] == ["body"]
    assert "Jane" not in response.text


def test_path_and_query_parameters_are_named_with_their_location() -> None:
    response = _app().get("/admin/runs/abc?limit=1000")
    errors = {(e["in"], e["field"]) for e in _problem(response, 422)["errors"]}
    assert errors == {("path", "run_id"), ("query", "limit")}


def test_thousands_of_bad_items_give_a_bounded_answer() -> None:
    response = _app().post("/admin/contacts", json={"name": "n", "email": "a@b.invalid", "marketplace_ids": [1] * 5000})
    body = _problem(response, 422)
    assert len(body["errors"]) == 100
    assert body["detail"].endswith("and 4995 more")


def test_a_bug_is_a_500_problem_without_internals_and_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        response = _app().get("/admin/boom")
    body = _problem(response, 500)
    assert "hunter2" not in response.text and EMAIL not in response.text and "RuntimeError" not in response.text
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 1 and logged[0].error_id in body["detail"]
    assert "/admin/boom" in logged[0].getMessage()


@pytest.mark.parametrize(
    ("header", "status", "says"),
    [
        (None, 401, "missing bearer token"),
        ("Bearer wrong-token-0123456789", 401, "invalid bearer token"),
        ("Bearer viewer-token-0123456789", 403, "operator is needed"),
    ],
)
def test_refused_tokens_are_problems(header: str | None, status: int, says: str) -> None:
    client = _app()
    client.headers.pop("Authorization")
    headers = {"Authorization": header} if header else {}
    response = client.post("/admin/contacts", json={}, headers=headers)
    body = _problem(response, status)
    assert says in body["detail"]
    assert (response.headers.get("www-authenticate") == "Bearer") == (status == 401)


def test_openapi_declares_the_problem_body_where_it_is_answered() -> None:
    spec = _app().get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {"ProblemDetails", "ProblemFieldError"} <= set(schemas)
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    ref = {"$ref": "#/components/schemas/ProblemDetails"}

    def answers(path: str, method: str) -> dict:
        return spec["paths"][path][method]["responses"]

    create = answers("/admin/contacts", "post")
    for status in ("401", "403", "409", "422", "500"):
        assert create[status]["content"]["application/problem+json"]["schema"] == ref, status
    run = answers("/admin/runs/{run_id}", "get")
    assert {"404", "422", "500"} <= set(run) and "401" not in run
    assert "401" not in answers("/livez", "get") and "422" not in answers("/livez", "get")
    assert schemas["ProblemDetails"]["properties"]["status"]["minimum"] == 400
    assert "ProblemFieldError" in json.dumps(schemas["ProblemDetails"])


def test_problems_are_4xx_or_5xx() -> None:
    with pytest.raises(ValueError, match="4xx or 5xx"):
        Problem(200, "fine")


def test_invalid_lists_the_first_errors_in_its_detail() -> None:
    problem = Problem.invalid([{"field": f"f{i}", "message": "bad"} for i in range(7)])
    body = problem.body()
    assert body["status"] == 422 and len(body["errors"]) == 7
    assert body["detail"] == "invalid input: f0: bad; f1: bad; f2: bad; f3: bad; f4: bad; and 2 more"


def test_field_errors_of_a_model_validated_by_hand() -> None:
    with pytest.raises(ValidationError) as caught:
        Contact.model_validate({"name": "n", "email": EMAIL, "marketplace_ids": ["A"], "cadence": {"mode": "x"}})
    errors = field_errors(caught.value, prefix="settings")
    assert {e["field"] for e in errors} == {"settings.email", "settings.cadence"}
    assert EMAIL not in json.dumps(errors)
