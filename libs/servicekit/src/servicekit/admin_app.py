"""The admin HTTP app every service serves: /livez, /readyz, /metrics, plus the service's own /admin routes.

Every error it answers is an RFC 9457 problem body (see `problems`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from servicekit.admin_auth import Principal
from servicekit.problems import install_problem_handlers

Check = Callable[[], Awaitable[bool]]


def create_admin_app(
    service: str,
    *,
    checks: Mapping[str, Check],
    routers: Sequence[APIRouter] = (),
    principals: Mapping[str, Principal] | None = None,
) -> FastAPI:
    app = FastAPI(title=f"{service} admin API", version="1")
    app.state.admin_principals = dict(principals or {})

    @app.get("/livez", tags=["health"])
    async def livez() -> dict[str, str]:
        # No dependency checks here: a Kafka outage must not make Kubernetes restart every pod.
        return {"status": "alive"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "A dependency is failing"}})
    async def readyz() -> Response:
        names = list(checks)
        results = await asyncio.gather(*(_safe(checks[n]) for n in names))
        status = {n: ("ok" if ok else "failing") for n, ok in zip(names, results, strict=True)}
        code = 200 if all(results) else 503
        return JSONResponse({"status": "ready" if code == 200 else "unready", "checks": status}, code)

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)
    install_problem_handlers(app)
    return app


async def _safe(check: Check) -> bool:
    try:
        return await asyncio.wait_for(check(), timeout=3)
    except Exception:
        return False
