"""The admin routes, mounted as a service mounts them, against the real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
import servicekit
import synchistory
from servicekit import Principal, Role
from synchistory import Trigger

from .conftest import HISTORY, Lane

TOKENS = {
    "viewer-token-0123456789": Principal("vera", Role.viewer),
    "operator-token-012345678": Principal("otto", Role.operator),
}
VIEWER = {"authorization": "Bearer viewer-token-0123456789"}
OPERATOR = {"authorization": "Bearer operator-token-012345678"}


class Service:
    def __init__(self) -> None:
        self.wakes = 0
        self.inactive = {"conn-off"}

    async def admission(self, conn, connection_id: str) -> synchistory.Refusal | None:
        if connection_id.startswith("conn-"):
            return synchistory.Refusal(409, "connection is paused") if connection_id in self.inactive else None
        return synchistory.UNKNOWN_CONNECTION

    def queued(self) -> None:
        self.wakes += 1


@pytest_asyncio.fixture
async def service() -> Service:
    return Service()


@pytest_asyncio.fixture
async def api(pool, service: Service) -> AsyncIterator[httpx.AsyncClient]:
    router = synchistory.sync_routes(
        pool, HISTORY, synchistory.SyncAdmin(lane=Lane.POLL, admission=service.admission, queued=service.queued)
    )
    app = servicekit.create_admin_app("lib-test", checks={}, routers=[router], principals=TOKENS)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def test_operators_start_runs_the_service_admits_and_its_scheduler_is_woken(api, service, pool) -> None:
    now = await api.post("/admin/connections/conn-1/sync-now", headers=OPERATOR)
    assert now.status_code == 202
    assert (now.json()["trigger"], now.json()["status"], now.json()["requested_by"]) == ("manual", "queued", "otto")
    ranged = await api.post(
        "/admin/connections/conn-1/sync",
        json={"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00+01:00"},
        headers=OPERATOR,
    )
    assert ranged.status_code == 202 and ranged.json()["trigger"] == "custom_range"
    assert service.wakes == 2
    # Without `replay` in the service's SyncAdmin, bodies refuse it.
    replay = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "replay": True}
    assert (await api.post("/admin/connections/conn-1/sync", json=replay, headers=OPERATOR)).status_code == 422

    for path, status in (("/admin/connections/nope/sync-now", 404), ("/admin/connections/conn-off/sync-now", 409)):
        answer = await api.post(path, headers=OPERATOR)
        assert answer.status_code == status and answer.headers["content-type"] == "application/problem+json"
    assert service.wakes == 2
    assert (await api.post("/admin/connections/conn-1/sync-now", headers=VIEWER)).status_code == 403


async def test_a_resync_repeats_an_ended_runs_window_or_records(api, pool) -> None:
    async with pool.acquire() as conn:
        run = await HISTORY.start_run(conn, connection_id="conn-1", trigger=Trigger.SCHEDULED, lane=Lane.POLL,
                                      record_keys=["A-1", "A-2"])  # fmt: skip
        empty = await HISTORY.start_run(conn, connection_id="conn-1", trigger=Trigger.SCHEDULED, lane=Lane.POLL)
    assert (await api.post(f"/admin/sync-runs/{run.id}/resync", headers=OPERATOR)).status_code == 409  # running
    async with pool.acquire() as conn:
        await HISTORY.finish_run(conn, run.id, error=None)
        await HISTORY.finish_run(conn, empty.id, error="Throttled")
    again = await api.post(f"/admin/sync-runs/{run.id}/resync", headers=OPERATOR)
    assert again.status_code == 202
    assert (again.json()["record_keys"], again.json()["resync_of"]) == (["A-1", "A-2"], run.id)
    assert (await api.post(f"/admin/sync-runs/{empty.id}/resync", headers=OPERATOR)).status_code == 409
    assert (await api.post("/admin/sync-runs/999999/resync", headers=OPERATOR)).status_code == 404

    detail = await api.get(f"/admin/sync-runs/{run.id}", headers=VIEWER)
    assert detail.status_code == 200 and detail.json()["errors"] == []
    listed = await api.get("/admin/sync-runs", params={"trigger": "resync", "status": "queued"}, headers=VIEWER)
    assert [r["id"] for r in listed.json()] == [again.json()["id"]]


async def test_requests_outside_the_stated_constraints_are_refused_and_the_openapi_states_them(api) -> None:
    for params in ({"limit": 0}, {"limit": 501}, {"status": "done"}, {"trigger": "whenever"}, {"before_id": 0},
                   {"before_id": 2**63}):  # fmt: skip
        answer = await api.get("/admin/sync-runs", params=params, headers=VIEWER)
        assert answer.status_code == 422, params
    assert (await api.get(f"/admin/sync-runs/{2**63}", headers=VIEWER)).status_code == 422
    backwards = {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    naive = {"from": "2026-01-01T00:00:00", "to": "2026-01-02T00:00:00Z"}
    future = {"from": "2026-01-01T00:00:00Z", "to": "2999-01-01T00:00:00Z"}
    for body in (backwards, naive, future, {}):
        assert (await api.post("/admin/connections/conn-1/sync", json=body, headers=OPERATOR)).status_code == 422

    spec = (await api.get("/openapi.json")).json()
    params = {p["name"]: p for p in spec["paths"]["/admin/sync-runs"]["get"]["parameters"]}
    assert (params["limit"]["schema"]["minimum"], params["limit"]["schema"]["maximum"]) == (1, 500)
    schemas = spec["components"]["schemas"]

    def enum_of(param: dict) -> list[str]:
        for option in param["schema"].get("anyOf", [param["schema"]]):
            if "$ref" in option:
                return schemas[option["$ref"].rsplit("/", 1)[1]]["enum"]
        raise AssertionError(param)

    assert enum_of(params["status"]) == ["queued", "running", "succeeded", "failed"]
    assert sorted(enum_of(params["trigger"])) == ["custom_range", "manual", "nudged", "resync", "scheduled"]
    sync = spec["paths"]["/admin/connections/{connection_id}/sync"]["post"]
    assert {"404", "409", "422"} <= set(sync["responses"])
