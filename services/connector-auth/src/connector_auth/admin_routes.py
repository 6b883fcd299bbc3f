"""Admin REST API on connections, behind bearer tokens with roles.

viewer reads; operator changes settings, enables, disables and tests; admin creates connections, starts
consent flows, issues and revokes setup links, disconnects and re-encrypts refresh tokens.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Annotated, Any

import spapi
from fastapi import APIRouter, Body, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from servicekit import Principal, Role, require_role

from connector_auth import connections, deadlines, settings_rules
from connector_auth.connections import Actor
from connector_auth.crypto import DecryptionFailed
from connector_auth.deps import Deps
from connector_auth.repository import Connection, SetupLink

log = logging.getLogger(__name__)


class CreateConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Display name, e.g. 'ACME US'. Never put a secret here: it is published.")
    region: str = Field(description="NA, EU or FE: one authorization covers a region.")
    marketplace_ids: list[str] = Field(description="Amazon marketplace ids in that region, e.g. ATVPDKIKX0DER.")
    settings: dict[str, Any] | None = Field(default=None, description="Settings differing from the defaults.")


class ChangeConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    marketplace_ids: list[str] | None = None


class Warning(BaseModel):
    code: str
    deadline: datetime


class ConnectionView(BaseModel):
    id: str
    name: str
    status: str
    region: str
    marketplace_ids: list[str]
    selling_partner_id: str | None
    authorized_at: datetime | None
    reauthorization_deadline: datetime | None
    client_secret_rotation_deadline: datetime | None
    warnings: list[Warning]
    settings: dict[str, Any]
    revision: int
    created_at: datetime
    updated_at: datetime


class CreatedConnection(BaseModel):
    connection: ConnectionView
    consent_url: str = Field(description="Send the seller here; its state is single-use and valid 10 minutes.")
    consent_expires_at: datetime


class ConsentView(BaseModel):
    consent_url: str
    consent_expires_at: datetime


class SetupLinkView(BaseModel):
    id: str
    connection_id: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    used_at: datetime | None
    url: str | None = Field(default=None, description="Shown once, when the link is created.")


def view(deps: Deps, c: Connection) -> ConnectionView:
    return ConnectionView(
        id=c.id,
        name=c.name,
        status=c.status,
        region=c.region,
        marketplace_ids=c.marketplace_ids,
        selling_partner_id=c.selling_partner_id,
        authorized_at=c.authorized_at,
        reauthorization_deadline=deadlines.reauthorization_deadline(c.authorized_at),
        client_secret_rotation_deadline=deadlines.client_secret_deadline(deps.client_secret_rotated_at),
        warnings=[Warning(code=w.code, deadline=w.deadline) for w in connections.current_warnings(deps, c)],
        settings=settings_rules.validate_settings(c.settings).model_dump(mode="json"),
        revision=c.revision,
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


def _link_view(link: SetupLink, url: str | None = None) -> SetupLinkView:
    return SetupLinkView(
        id=link.id,
        connection_id=link.connection_id,
        created_by=link.created_by,
        created_at=link.created_at,
        expires_at=link.expires_at,
        revoked_at=link.revoked_at,
        used_at=link.used_at,
        url=url,
    )


def _actor(principal: Principal) -> Actor:
    return Actor(name=principal.name, kind="admin")


Viewer = Annotated[Principal, Depends(require_role(Role.viewer))]
Operator = Annotated[Principal, Depends(require_role(Role.operator))]
Admin = Annotated[Principal, Depends(require_role(Role.admin))]


def router(deps: Deps) -> APIRouter:
    api = APIRouter(prefix="/admin", tags=["connections"])

    # --- viewer ---------------------------------------------------------------------------------------
    @api.get("/connections")
    async def list_connections(_: Viewer) -> list[ConnectionView]:
        return [view(deps, c) for c in await connections.list_all(deps)]

    @api.get("/connections/{connection_id}")
    async def get_connection(connection_id: str, _: Viewer) -> ConnectionView:
        return view(deps, await connections.get(deps, connection_id))

    @api.get("/connections/{connection_id}/setup-links")
    async def list_setup_links(connection_id: str, _: Viewer) -> list[SetupLinkView]:
        return [_link_view(link) for link in await connections.list_setup_links(deps, connection_id)]

    @api.get("/connections/{connection_id}/audit")
    async def audit(connection_id: str, _: Viewer) -> list[dict[str, Any]]:
        return await connections.audit_trail(deps, connection_id)

    @api.get("/deadlines")
    async def deadlines_overview(_: Viewer) -> dict[str, Any]:
        live = [c for c in await connections.list_all(deps) if c.status != "disconnected"]
        return {
            "client_secret_rotated_at": deps.client_secret_rotated_at,
            "client_secret_rotation_deadline": deadlines.client_secret_deadline(deps.client_secret_rotated_at),
            "connections": [
                {
                    "id": c.id,
                    "reauthorization_deadline": deadlines.reauthorization_deadline(c.authorized_at),
                    "warnings": [w.code for w in connections.current_warnings(deps, c)],
                }
                for c in live
            ],
        }

    # --- operator -------------------------------------------------------------------------------------
    @api.patch("/connections/{connection_id}/settings")
    async def update_settings(
        connection_id: str,
        principal: Operator,
        patch: Annotated[dict[str, Any], Body(description="Settings to replace, each whole; others stay.")],
    ) -> ConnectionView:
        return view(deps, await connections.update_settings(deps, _actor(principal), connection_id, patch))

    @api.patch("/connections/{connection_id}")
    async def change_connection(connection_id: str, principal: Operator, body: ChangeConnection) -> ConnectionView:
        changed = await connections.rename(
            deps, _actor(principal), connection_id, name=body.name, marketplace_ids=body.marketplace_ids
        )
        return view(deps, changed)

    @api.post("/connections/{connection_id}/enable")
    async def enable(connection_id: str, principal: Operator) -> ConnectionView:
        return view(deps, await connections.enable(deps, _actor(principal), connection_id))

    @api.post("/connections/{connection_id}/disable")
    async def disable(connection_id: str, principal: Operator) -> ConnectionView:
        return view(deps, await connections.disable(deps, _actor(principal), connection_id))

    @api.post("/connections/{connection_id}/test")
    async def test(connection_id: str, principal: Operator) -> dict[str, Any]:
        return await connections.test_connection(deps, _actor(principal), connection_id)

    # --- admin ----------------------------------------------------------------------------------------
    @api.post("/connections", status_code=201)
    async def create(body: CreateConnection, principal: Admin) -> CreatedConnection:
        c, consent = await connections.create(
            deps,
            _actor(principal),
            name=body.name,
            region=body.region,
            marketplace_ids=body.marketplace_ids,
            settings=body.settings,
        )
        return CreatedConnection(
            connection=view(deps, c), consent_url=consent.url, consent_expires_at=consent.expires_at
        )

    @api.post("/connections/{connection_id}/authorize")
    async def authorize(connection_id: str, principal: Admin) -> ConsentView:
        consent = await connections.start_authorization(deps, _actor(principal), connection_id)
        return ConsentView(consent_url=consent.url, consent_expires_at=consent.expires_at)

    @api.post("/connections/{connection_id}/setup-link", status_code=201)
    async def create_setup_link(connection_id: str, principal: Admin) -> SetupLinkView:
        issued = await connections.create_setup_link(deps, _actor(principal), connection_id)
        return _link_view(issued.link, issued.url)

    @api.post("/connections/{connection_id}/setup-links/{link_id}/revoke")
    async def revoke_setup_link(connection_id: str, link_id: str, principal: Admin) -> SetupLinkView:
        return _link_view(await connections.revoke_setup_link(deps, _actor(principal), connection_id, link_id))

    @api.post("/connections/{connection_id}/disconnect")
    async def disconnect(connection_id: str, principal: Admin) -> ConnectionView:
        return view(deps, await connections.disconnect(deps, _actor(principal), connection_id))

    @api.post("/refresh-tokens/re-encrypt", tags=["keys"])
    async def re_encrypt(principal: Admin) -> dict[str, Any]:
        return await connections.re_encrypt_refresh_tokens(deps, _actor(principal))

    return api


def install_error_handlers(app: FastAPI) -> None:
    """Domain errors become 4xx/502 with a message; validation errors name each field."""

    def problem(
        status: int, detail: str, errors: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None
    ) -> JSONResponse:
        body: dict[str, Any] = {"detail": detail}
        if errors is not None:
            body["errors"] = errors
        return JSONResponse(body, status_code=status, headers=headers)

    async def not_found(_: Request, exc: Exception) -> JSONResponse:
        return problem(404, str(exc))

    async def conflict(_: Request, exc: Exception) -> JSONResponse:
        return problem(409, str(exc))

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, settings_rules.InvalidSettings)
        return problem(422, f"invalid input: {exc}", exc.errors)

    async def throttled(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, connections.Throttled)
        return problem(429, str(exc), headers={"Retry-After": str(math.ceil(exc.retry_after))})

    async def upstream(_: Request, exc: Exception) -> JSONResponse:
        return problem(502, str(exc))

    async def undecryptable(_: Request, exc: Exception) -> JSONResponse:
        # A missing key (rotation done wrong) or a ciphertext moved between rows: an operator must look.
        log.error("stored refresh token cannot be decrypted: %s", exc)
        return problem(500, f"the stored consent cannot be decrypted: {exc}")

    async def request_invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": ".".join(str(p) for p in e["loc"] if p != "body") or "body", "message": e["msg"]}
            for e in exc.errors()
        ]
        return problem(422, "invalid input: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)

    app.add_exception_handler(connections.NotFound, not_found)
    app.add_exception_handler(connections.Conflict, conflict)
    app.add_exception_handler(settings_rules.InvalidSettings, invalid)
    app.add_exception_handler(connections.UpstreamFailed, upstream)
    app.add_exception_handler(connections.Throttled, throttled)
    # spapi's errors name the operation, status and Amazon's codes only, never a token.
    app.add_exception_handler(spapi.SpApiError, upstream)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(DecryptionFailed, undecryptable)
