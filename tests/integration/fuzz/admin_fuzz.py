"""Property-based fuzzing of an admin API from its own OpenAPI document (schemathesis + hypothesis).

Each generated request goes over a real socket to the service running in the test's event loop; the fuzz loop
runs in a worker thread so the loop keeps serving. Every answer must be no 5xx, arrive within REQUEST_TIMEOUT,
and match what the document promises (status, content type, headers, body schema). A request the schema calls
valid must not be refused as invalid (422), except where the target names a rule the schema cannot state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

REQUEST_TIMEOUT = 5.0
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass(frozen=True, kw_only=True)
class FuzzedApi:
    """One running admin API to fuzz: where it listens, how to authenticate, and ids of things that exist."""

    base_url: str
    openapi: dict[str, Any]
    headers: Mapping[str, str]
    # Path parameter name -> values that name existing resources, so requests get past "not found" too.
    known: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # "METHOD /path" -> why a schema-valid request may still get 422 (a rule on stored state).
    may_refuse: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Finding:
    operation: str
    problem: str
    reproduce: str


@dataclass
class Report:
    requests: int = 0
    findings: list[Finding] = field(default_factory=list)
    # "METHOD /path" -> status -> how many answers
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)


def _strategies(operation: Any, known: Mapping[str, Sequence[str]]) -> st.SearchStrategy[Any]:
    names = {p.name for p in operation.path_parameters}
    pinned = {name: values for name, values in known.items() if name in names}
    options = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
    if pinned:
        # Known ids with everything else generated: reaches the code behind the 404.
        options += [
            st.sampled_from(values).flatmap(
                lambda value, name=name: operation.as_strategy(GenerationMode.POSITIVE, path_parameters={name: value})
            )
            for name, values in pinned.items()
        ]
    return st.one_of(options)


def fuzz(api: FuzzedApi, *, examples_per_operation: int) -> Report:
    """Blocking: run it in a thread (asyncio.to_thread) while the service's event loop serves."""
    schema = schemathesis.openapi.from_dict(api.openapi)
    report = Report()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            _fuzz_operation(result.ok(), api, session, report, examples_per_operation)
    return report


def _fuzz_operation(operation: Any, api: FuzzedApi, session: requests.Session, report: Report, examples: int) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,  # the same examples every run: a failure in CI reproduces locally
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=_strategies(operation, api.known))
    def one(case: Any) -> None:
        report.requests += 1
        reproduce = case.as_curl_command(headers=dict(api.headers), base_url=api.base_url)
        try:
            response = case.call(
                base_url=api.base_url, session=session, headers=dict(api.headers), timeout=REQUEST_TIMEOUT
            )
        except requests.Timeout:
            report.findings.append(Finding(label, f"no answer within {REQUEST_TIMEOUT} s", reproduce))
            return
        seen = report.statuses.setdefault(label, {})
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as failed:  # every check that failed, each with its own message
            for failure in failed.exceptions:
                report.findings.append(Finding(label, str(failure)[:2000], reproduce))
        except Failure as failure:
            report.findings.append(Finding(label, str(failure)[:2000], reproduce))
        positive = case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE
        if positive and response.status_code == 422 and label not in api.may_refuse:
            detail = response.text[:500]
            report.findings.append(Finding(label, f"schema-valid request refused with 422: {detail}", reproduce))

    one()


async def fuzz_in_thread(api: FuzzedApi, *, examples_per_operation: int) -> Report:
    return await asyncio.to_thread(fuzz, api, examples_per_operation=examples_per_operation)


def summary(findings: list[Finding], limit: int = 15) -> str:
    shown: dict[tuple[str, str], Finding] = {}
    for f in findings:
        shown.setdefault((f.operation, f.problem.splitlines()[0] if f.problem else ""), f)
    lines = [f"{len(findings)} findings, {len(shown)} distinct:"]
    for f in list(shown.values())[:limit]:
        lines += [f"- {f.operation}: {f.problem}", f"  {f.reproduce}"]
    return "\n".join(lines)


TargetFactory = Callable[..., Any]
