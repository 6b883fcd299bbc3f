"""Admin REST API on connections, behind bearer tokens with roles; every refusal is a servicekit problem body.

viewer reads; operator changes settings, enables, disables and tests; admin creates connections, starts
consent flows, issues and revokes setup links, disconnects and re-encrypts refresh tokens.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, Field
from servicekit import Principal, Role, problem_responses, require_role

from connector_auth import connections, deadlines, settings_rules
from connector_auth.admin_requests import (
    ChangeConnection,
    ConnectionIdPath,
    CreateConnection,
    SettingsPatch,
    SetupLinkIdPath,
)
from connector_auth.connections import Actor
from connector_auth.deps import Deps
from connector_auth.repository import Connection, SetupLink


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


class AuditEntry(BaseModel):
    at: datetime
    actor: str = Field(description="Admin name, service name, seller id, or connector-auth itself")
    actor_kind: Literal["admin", "service", "seller", "system"]
    action: str = Field(description="e.g. connection.created, settings.updated, access_token.issued")
    details: dict[str, Any]


class DeadlineEntry(BaseModel):
    id: str
    reauthorization_deadline: datetime | None
    warnings: list[str]


class DeadlinesView(BaseModel):
    client_secret_rotated_at: datetime | None
    client_secret_rotation_deadline: datetime | None
    connections: list[DeadlineEntry]


class MarketplaceAtAmazon(BaseModel):
    id: str
    name: str
    country_code: str
    participating: bool
    has_suspended_listings: bool


class TestReport(BaseModel):
    connection_id: str
    ok: bool = Field(description="Amazon answered; `error` says why not")
    error: str | None
    marketplaces: list[MarketplaceAtAmazon]
    configured_marketplace_ids: list[str]
    missing_at_amazon: list[str]
    not_configured: list[str]
    matches: bool = Field(description="Every configured marketplace is one the seller participates in")


class ReEncrypted(BaseModel):
    re_encrypted: int
    primary_key_id: str
    refresh_tokens_by_key_id: dict[str, int]


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


# The problems each route may answer besides 401/403 (require_role), 422 (its request model) and 500.
_MISSING = problem_responses(404)
_STATE = problem_responses(404, 409)
_THROTTLED = problem_responses(404, 409, 429)
_THROTTLED[429]["headers"] = {
    "Retry-After": {"description": "Seconds until Amazon's quota allows the call", "schema": {"type": "integer"}}
}


def router(deps: Deps) -> APIRouter:
    api = APIRouter(prefix="/admin", tags=["connections"])

    # --- viewer ---------------------------------------------------------------------------------------
    @api.get("/connections")
    async def list_connections(_: Viewer) -> list[ConnectionView]:
        return [view(deps, c) for c in await connections.list_all(deps)]

    @api.get("/connections/{connection_id}", responses=_MISSING)
    async def get_connection(connection_id: ConnectionIdPath, _: Viewer) -> ConnectionView:
        return view(deps, await connections.get(deps, connection_id))

    @api.get("/connections/{connection_id}/setup-links", responses=_MISSING)
    async def list_setup_links(connection_id: ConnectionIdPath, _: Viewer) -> list[SetupLinkView]:
        return [_link_view(link) for link in await connections.list_setup_links(deps, connection_id)]

    @api.get("/connections/{connection_id}/audit", responses=_MISSING)
    async def audit(connection_id: ConnectionIdPath, _: Viewer) -> list[AuditEntry]:
        return [AuditEntry.model_validate(e) for e in await connections.audit_trail(deps, connection_id)]

    @api.get("/deadlines")
    async def deadlines_overview(_: Viewer) -> DeadlinesView:
        live = [c for c in await connections.list_all(deps) if c.status != "disconnected"]
        return DeadlinesView(
            client_secret_rotated_at=deps.client_secret_rotated_at,
            client_secret_rotation_deadline=deadlines.client_secret_deadline(deps.client_secret_rotated_at),
            connections=[
                DeadlineEntry(
                    id=c.id,
                    reauthorization_deadline=deadlines.reauthorization_deadline(c.authorized_at),
                    warnings=[w.code for w in connections.current_warnings(deps, c)],
                )
                for c in live
            ],
        )

    # --- operator -------------------------------------------------------------------------------------
    @api.patch("/connections/{connection_id}/settings", responses=_STATE)
    async def update_settings(
        connection_id: ConnectionIdPath,
        principal: Operator,
        patch: Annotated[SettingsPatch, Body()],  # type: ignore[valid-type]
    ) -> ConnectionView:
        changes = patch.changes()  # type: ignore[attr-defined]
        return view(deps, await connections.update_settings(deps, _actor(principal), connection_id, changes))

    @api.patch("/connections/{connection_id}", responses=_STATE)
    async def change_connection(
        connection_id: ConnectionIdPath, principal: Operator, body: ChangeConnection
    ) -> ConnectionView:
        changed = await connections.rename(
            deps, _actor(principal), connection_id, name=body.name, marketplace_ids=body.marketplace_ids
        )
        return view(deps, changed)

    @api.post("/connections/{connection_id}/enable", responses=_STATE)
    async def enable(connection_id: ConnectionIdPath, principal: Operator) -> ConnectionView:
        return view(deps, await connections.enable(deps, _actor(principal), connection_id))

    @api.post("/connections/{connection_id}/disable", responses=_STATE)
    async def disable(connection_id: ConnectionIdPath, principal: Operator) -> ConnectionView:
        return view(deps, await connections.disable(deps, _actor(principal), connection_id))

    @api.post("/connections/{connection_id}/test", responses=_THROTTLED)
    async def test(connection_id: ConnectionIdPath, principal: Operator) -> TestReport:
        """getMarketplaceParticipations against the configured marketplaces; 429 + Retry-After past a few seconds."""
        return TestReport.model_validate(await connections.test_connection(deps, _actor(principal), connection_id))

    # --- admin ----------------------------------------------------------------------------------------
    @api.post("/connections", status_code=201)
    async def create(body: Annotated[CreateConnection, Body()], principal: Admin) -> CreatedConnection:
        c, consent = await connections.create(
            deps,
            _actor(principal),
            name=body.name,
            region=body.region,
            marketplace_ids=body.marketplace_ids,
            settings=body.settings_changes(),
        )
        return CreatedConnection(
            connection=view(deps, c), consent_url=consent.url, consent_expires_at=consent.expires_at
        )

    @api.post("/connections/{connection_id}/authorize", responses=_STATE)
    async def authorize(connection_id: ConnectionIdPath, principal: Admin) -> ConsentView:
        consent = await connections.start_authorization(deps, _actor(principal), connection_id)
        return ConsentView(consent_url=consent.url, consent_expires_at=consent.expires_at)

    @api.post("/connections/{connection_id}/setup-link", status_code=201, responses=_STATE)
    async def create_setup_link(connection_id: ConnectionIdPath, principal: Admin) -> SetupLinkView:
        issued = await connections.create_setup_link(deps, _actor(principal), connection_id)
        return _link_view(issued.link, issued.url)

    @api.post("/connections/{connection_id}/setup-links/{link_id}/revoke", responses=_MISSING)
    async def revoke_setup_link(
        connection_id: ConnectionIdPath, link_id: SetupLinkIdPath, principal: Admin
    ) -> SetupLinkView:
        return _link_view(await connections.revoke_setup_link(deps, _actor(principal), connection_id, link_id))

    @api.post("/connections/{connection_id}/disconnect", responses=_MISSING)
    async def disconnect(connection_id: ConnectionIdPath, principal: Admin) -> ConnectionView:
        return view(deps, await connections.disconnect(deps, _actor(principal), connection_id))

    @api.post("/refresh-tokens/re-encrypt", tags=["keys"])
    async def re_encrypt(principal: Admin) -> ReEncrypted:
        return ReEncrypted.model_validate(await connections.re_encrypt_refresh_tokens(deps, _actor(principal)))

    return api
