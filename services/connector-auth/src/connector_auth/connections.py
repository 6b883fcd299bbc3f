"""Use cases on seller connections: create, consent (OAuth), settings, enable/disable/disconnect, tokens.

Every change commits the connection row, its `connection.updated` outbox row and an audit row in one
transaction. No transaction is held open across a call to Amazon.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn
from urllib.parse import urlencode

import asyncpg
import messaging
import servicekit
import spapi
from contracts import MARKETPLACES, ConnectionStatus, ConnectionUpdatedV1, ConnectionWarning, new_event
from prometheus_client import Counter
from pydantic import ValidationError

from connector_auth import deadlines, lwa_client_alert, oauth_state, repository, seller_check, settings_rules
from connector_auth.access_tokens import AccessToken, NoRefreshToken, RefreshRefused, unseal
from connector_auth.crypto import Sealed, refresh_token_aad
from connector_auth.deps import Deps
from connector_auth.repository import Connection

log = logging.getLogger(__name__)

SOURCE = "connector-auth"
TOPIC = "connection.updated"
# The ids create() and create_setup_link() mint; the admin API refuses any other shape up front.
CONNECTION_ID_PATTERN = r"^conn-[0-9a-f]{16}$"
SETUP_LINK_ID_PATTERN = r"^sl-[0-9a-f]{16}$"
# How long an admin request waits for a rate-limit token of Amazon's before it answers 429.
ADMIN_MAX_WAIT = 3.0

CALLBACKS = Counter("connector_auth_oauth_callbacks_total", "OAuth callbacks by outcome", ["outcome"])
ISSUED = Counter("connector_auth_access_tokens_issued_total", "Access tokens handed to services", ["service"])


# Refusals are servicekit problems: the admin app answers each with its status as application/problem+json.
class NotFound(servicekit.Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(404, detail)


class Conflict(servicekit.Problem):
    """The connection's state does not allow this (e.g. enabling a disconnected connection)."""

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(409, detail, **extra)


class AuthorizationRefused(Exception):
    """The OAuth callback was refused; the message is shown to the person in the browser."""


class SetupLinkUsed(AuthorizationRefused):
    """A setup link works once: a seller authorized through it already (410 Gone)."""


class UpstreamFailed(servicekit.Problem):
    """Amazon could not be reached or answered with an error we cannot act on."""

    def __init__(self, detail: str) -> None:
        super().__init__(502, detail)


class Throttled(servicekit.Problem):
    """Amazon's quota for the operation is spent for now; `retry_after` seconds until the next call can go."""

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            429,
            f"Amazon's rate limit for this call is spent; retry in {seconds} s",
            headers={"Retry-After": str(seconds)},
            retry_after_seconds=seconds,
        )
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    name: str
    kind: str  # admin | service | seller | system


SYSTEM = Actor(name="connector-auth", kind="system")


@dataclass(frozen=True, slots=True)
class Consent:
    url: str
    expires_at: datetime


# --- reading -----------------------------------------------------------------------------------------


async def get(deps: Deps, connection_id: str) -> Connection:
    async with deps.pool.acquire() as conn:
        found = await repository.get_connection(conn, connection_id)
    if found is None:
        raise NotFound(f"connection {connection_id} does not exist")
    return found


async def list_all(deps: Deps) -> list[Connection]:
    async with deps.pool.acquire() as conn:
        return await repository.list_connections(conn)


def current_warnings(deps: Deps, c: Connection) -> list[deadlines.Warning]:
    if c.status == "disconnected":
        return []
    return deadlines.warnings(
        deps.clock(), authorized_at=c.authorized_at, client_secret_rotated_at=deps.client_secret_rotated_at
    )


def payload(deps: Deps, c: Connection, warnings: Sequence[deadlines.Warning]) -> ConnectionUpdatedV1:
    """What the other services see: state and settings, never a token or secret."""
    return ConnectionUpdatedV1(
        connection_id=c.id,
        revision=c.revision,
        name=c.name,
        status=ConnectionStatus(c.status),
        region=c.region,  # type: ignore[arg-type]  # CHECK constraint: NA, EU or FE
        marketplace_ids=c.marketplace_ids,
        selling_partner_id=c.selling_partner_id,
        authorized_at=c.authorized_at,
        reauthorization_deadline=deadlines.reauthorization_deadline(c.authorized_at),
        warnings=[ConnectionWarning(code=w.code, deadline=w.deadline) for w in warnings],  # type: ignore[arg-type]
        settings=settings_rules.validate_settings(c.settings),
        updated_at=c.updated_at,
    )


async def _publish(deps: Deps, conn: asyncpg.Connection, c: Connection, *, tombstone: bool = False) -> Connection:
    """Stores `c` as the next revision and writes its event to the outbox (same transaction)."""
    warnings = current_warnings(deps, c)
    c = dataclasses.replace(
        c, revision=c.revision + 1, updated_at=deps.clock(), published_warnings=[w.code for w in warnings]
    )
    await repository.update_connection(conn, c)
    event = new_event(TOPIC, payload(deps, c, warnings), source=SOURCE, revision=str(c.revision), time=c.updated_at)
    await messaging.add(conn, event)
    if tombstone:
        await messaging.add_tombstone(conn, TOPIC, c.id.encode())
    return c


async def _audit(
    deps: Deps, conn: asyncpg.Connection, actor: Actor, action: str, connection_id: str | None, **details: Any
) -> None:
    await repository.audit(
        conn,
        at=deps.clock(),
        actor=actor.name,
        actor_kind=actor.kind,
        action=action,
        connection_id=connection_id,
        details=details,
    )


async def _locked(conn: asyncpg.Connection, connection_id: str) -> Connection:
    found = await repository.get_connection(conn, connection_id, for_update=True)
    if found is None:
        raise NotFound(f"connection {connection_id} does not exist")
    return found


# --- creating and consenting -------------------------------------------------------------------------


def marketplaces_outside(region: str, marketplace_ids: list[str]) -> list[dict[str, str]]:
    """The ids not in `region`: the one rule on marketplaces a request's schema cannot state (the stored region)."""
    errors = []
    for position, mid in enumerate(marketplace_ids):
        known = MARKETPLACES.get(mid)
        if known is None:
            errors.append({"field": f"marketplace_ids.{position}", "message": "not an Amazon marketplace id"})
        elif known.region != region:
            errors.append(
                {"field": f"marketplace_ids.{position}", "message": f"in region {known.region}, not {region}"}
            )
    return errors


async def create(
    deps: Deps,
    actor: Actor,
    *,
    name: str,
    region: str,
    marketplace_ids: list[str],
    settings: dict[str, Any] | None = None,
) -> tuple[Connection, Consent]:
    """A pending connection plus the Amazon consent URL to send the seller to (state valid 10 minutes).

    The admin API's request model has checked name, region and marketplaces; the contract checks them again.
    """
    validated = settings_rules.initial(settings)
    now = deps.clock()
    c = Connection(
        id="conn-" + secrets.token_hex(8),
        name=name,
        region=region,
        marketplace_ids=list(marketplace_ids),
        status="pending",
        selling_partner_id=None,
        authorized_at=None,
        settings=validated.model_dump(mode="json"),
        revision=0,
        published_warnings=[],
        created_at=now,
        updated_at=now,
    )
    try:
        # The contract's own checks (e.g. a token pasted into the name) run before anything is stored.
        payload(deps, dataclasses.replace(c, revision=1), [])
    except ValidationError as exc:
        raise settings_rules.InvalidSettings(servicekit.field_errors(exc)) from None
    async with deps.pool.acquire() as conn, conn.transaction():
        await repository.insert_connection(conn, c)
        c = await _publish(deps, conn, c)
        consent = _consent(deps, c, await _new_state(deps, conn, c, setup_link_id=None, browser_bound=False))
        await _audit(deps, conn, actor, "connection.created", c.id, name=c.name, region=region)
    deps.published()
    log.info("connection created", extra={"connection_id": c.id, "actor": actor.name})
    return c, consent


async def _new_state(
    deps: Deps, conn: asyncpg.Connection, c: Connection, *, setup_link_id: str | None, browser_bound: bool
) -> oauth_state.State:
    state = oauth_state.issue_state(deps.signer, c.id, deps.clock())
    await repository.insert_state(
        conn,
        nonce_hash=state.nonce_hash,
        connection_id=c.id,
        setup_link_id=setup_link_id,
        browser_bound=browser_bound,
        now=deps.clock(),
        expires_at=state.expires_at,
    )
    return state


def _consent(deps: Deps, c: Connection, state: oauth_state.State) -> Consent:
    query = {"application_id": deps.application_id, "state": state.value, "redirect_uri": deps.redirect_uri}
    if deps.draft_app:
        query["version"] = "beta"
    host = deps.seller_central(c.marketplace_ids)
    return Consent(f"{host}/apps/authorize/consent?{urlencode(query)}", state.expires_at)


async def start_authorization(deps: Deps, actor: Actor, connection_id: str) -> Consent:
    """A fresh consent URL: first consent after an expired state, or the yearly re-authorization."""
    async with deps.pool.acquire() as conn, conn.transaction():
        c = await _locked(conn, connection_id)
        if c.status == "disconnected":
            raise Conflict("a disconnected connection cannot be authorized again; create a new one")
        consent = _consent(deps, c, await _new_state(deps, conn, c, setup_link_id=None, browser_bound=False))
        await _audit(deps, conn, actor, "authorization.started", c.id)
    return consent


async def complete_authorization(
    deps: Deps, *, state_value: str, code: str, selling_partner_id: str, browser_cookie: str | None
) -> Connection:
    """The OAuth callback. Refusals raise AuthorizationRefused and store nothing but the spent state."""
    now = deps.clock()
    try:
        state = oauth_state.read_state(deps.signer, state_value, now)
    except oauth_state.InvalidSignedValue as exc:
        _refuse("invalid_state", str(exc))
    if not code:
        _refuse("missing_code", "Amazon sent no authorization code (spapi_oauth_code)")
    if not _valid_seller_id(selling_partner_id):
        _refuse("invalid_seller", "selling_partner_id is missing or malformed")

    async with deps.pool.acquire() as conn, conn.transaction():
        row = await repository.lock_state(conn, state.nonce_hash)
        if row is None or row.connection_id != state.connection_id:
            _refuse("unknown_state", "the state was not issued for this connection; start the authorization again")
        if row.used_at is not None:
            _refuse("replayed_state", "the state was already used; start the authorization again")
        if now >= row.expires_at:
            _refuse("invalid_state", "the state has expired (it is valid 10 minutes); start the authorization again")
        if row.browser_bound and not _same_browser(deps, state, browser_cookie):
            _refuse("foreign_browser", "the authorization was started in another browser; open your setup link again")
        c = await repository.get_connection(conn, state.connection_id)
        if c is None or c.status == "disconnected":
            _refuse("disconnected", "this connection was disconnected; ask for a new one")
        if row.setup_link_id:
            await _check_link_still_usable(conn, row.setup_link_id)
        # Checked again below under the connection's lock; refusing here keeps the seller's code unspent.
        _check_seller_free(
            c, selling_partner_id, await repository.connection_of_seller(conn, selling_partner_id, c.region)
        )
        await repository.mark_state_used(conn, state.nonce_hash, now)

    # The code lives 5 minutes and works once; no transaction is open while Amazon answers.
    try:
        tokens = await deps.lwa.exchange_authorization_code(code, deps.redirect_uri)
    except spapi.AuthError as exc:
        if exc.kind is spapi.AuthErrorKind.CLIENT_REJECTED:
            lwa_client_alert.rejected("authorization_code")
            CALLBACKS.labels("client_rejected").inc()
            raise UpstreamFailed(
                "Amazon refused this application's credentials, not your consent; the operator has been alerted."
                " Please try again later"
            ) from None
        if exc.kind is spapi.AuthErrorKind.GRANT_REJECTED:
            _refuse("code_refused", "Amazon refused the authorization code (valid 5 minutes, once); start again")
        CALLBACKS.labels("upstream_failed").inc()
        raise UpstreamFailed("Login with Amazon could not be reached; start the authorization again") from None
    lwa_client_alert.accepted()
    if tokens.refresh_token is None:
        CALLBACKS.labels("upstream_failed").inc()
        raise UpstreamFailed("Login with Amazon returned no refresh token")
    check = await seller_check.confirm_seller(
        deps,
        region=c.region,
        marketplace_ids=c.marketplace_ids,
        selling_partner_id=selling_partner_id,
        access_token=tokens.access_token,
    )
    if check is seller_check.SellerCheck.OTHER_ACCOUNT:
        _refuse("seller_mismatch", "Amazon says this consent is for a different seller account than the one named")
    if check is seller_check.SellerCheck.UNKNOWN:
        # Nothing unconfirmed is ever bound, so no binding waits for an operator's confirmation.
        CALLBACKS.labels("seller_unconfirmed").inc()
        raise UpstreamFailed("Amazon could not confirm the seller account just now; start the authorization again")

    async with deps.pool.acquire() as conn, conn.transaction():
        c = await _locked(conn, state.connection_id)
        if c.status == "disconnected":
            _refuse("disconnected", "this connection was disconnected while you were at Amazon")
        _check_seller_free(
            c, selling_partner_id, await repository.connection_of_seller(conn, selling_partner_id, c.region)
        )
        if row.setup_link_id:
            await _check_link_still_usable(conn, row.setup_link_id)
        sealed = deps.cipher.encrypt(tokens.refresh_token.get_secret_value(), refresh_token_aad(c.id, c.region))
        await repository.store_refresh_token(conn, c.id, sealed, now)
        reauthorized = c.authorized_at is not None
        c = dataclasses.replace(
            c,
            selling_partner_id=selling_partner_id,
            authorized_at=now,
            status="active" if c.status == "pending" else c.status,
        )
        c = await _publish(deps, conn, c)
        if row.setup_link_id:
            await repository.mark_setup_link_used(conn, row.setup_link_id, now)
        await _audit(
            deps,
            conn,
            Actor(name=selling_partner_id, kind="seller"),
            "authorization.renewed" if reauthorized else "authorization.completed",
            c.id,
            via_setup_link=row.setup_link_id,
            key_id=sealed.key_id,
        )
    deps.access_tokens.invalidate(c.id)
    deps.published()
    CALLBACKS.labels("ok").inc()
    log.info("seller consent stored", extra={"connection_id": c.id, "selling_partner_id": selling_partner_id})
    return c


def _refuse(outcome: str, message: str) -> NoReturn:
    CALLBACKS.labels(outcome).inc()
    log.warning("oauth callback refused", extra={"outcome": outcome})
    raise AuthorizationRefused(message)


def _check_seller_free(c: Connection, selling_partner_id: str, holder: str | None) -> None:
    if c.selling_partner_id is not None and c.selling_partner_id != selling_partner_id:
        _refuse("other_seller", "consent came from a different seller account than the one this connection holds")
    if holder is not None and holder != c.id:
        _refuse(
            "seller_taken",
            f"this Amazon seller account is already connected in {c.region} as {holder}; one seller account can"
            " be bound to one live connection per region (disconnect that one first)",
        )


async def _check_link_still_usable(conn: asyncpg.Connection, link_id: str) -> None:
    """A state issued from a setup link dies with the link: revoked, or already used by another state of it."""
    link = await repository.get_setup_link(conn, link_id, for_update=True)
    if link is None or link.revoked_at is not None:
        _refuse("setup_link_revoked", "the setup link this authorization started from was revoked; ask for a new one")
    if link.used_at is not None:
        _refuse("setup_link_used", "the setup link this authorization started from was already used")


def _valid_seller_id(value: str) -> bool:
    return bool(value) and 8 <= len(value) <= 20 and value.isascii() and value.isalnum() and value.upper() == value


def _same_browser(deps: Deps, state: oauth_state.State, cookie: str | None) -> bool:
    return bool(cookie) and secrets.compare_digest(cookie or "", deps.signer.browser_binding(state.nonce))


# --- setup links -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedLink:
    link: repository.SetupLink
    url: str


async def create_setup_link(deps: Deps, actor: Actor, connection_id: str) -> IssuedLink:
    now = deps.clock()
    async with deps.pool.acquire() as conn, conn.transaction():
        c = await _locked(conn, connection_id)
        if c.status == "disconnected":
            raise Conflict("a disconnected connection cannot be authorized again; create a new one")
        token = oauth_state.issue_setup_link(deps.signer, c.id, now)
        link = repository.SetupLink(
            id=token.link_id,
            connection_id=c.id,
            created_by=actor.name,
            created_at=now,
            expires_at=token.expires_at,
            revoked_at=None,
            used_at=None,
        )
        await repository.insert_setup_link(conn, link, oauth_state.digest(token.value))
        await _audit(deps, conn, actor, "setup_link.created", c.id, link_id=link.id, expires_at=link.expires_at)
    return IssuedLink(link, f"{deps.public_base_url}/setup/{token.value}")


async def revoke_setup_link(deps: Deps, actor: Actor, connection_id: str, link_id: str) -> repository.SetupLink:
    async with deps.pool.acquire() as conn, conn.transaction():
        link = await repository.get_setup_link(conn, link_id)
        if link is None or link.connection_id != connection_id:
            raise NotFound(f"setup link {link_id} does not exist for connection {connection_id}")
        await repository.revoke_setup_link(conn, link_id, deps.clock())
        await _audit(deps, conn, actor, "setup_link.revoked", connection_id, link_id=link_id)
        revoked = await repository.get_setup_link(conn, link_id)
    assert revoked is not None
    return revoked


async def list_setup_links(deps: Deps, connection_id: str) -> list[repository.SetupLink]:
    await get(deps, connection_id)
    async with deps.pool.acquire() as conn:
        return await repository.list_setup_links(conn, connection_id)


@dataclass(frozen=True, slots=True)
class BrowserConsent:
    url: str
    cookie: str


async def open_setup_link(deps: Deps, token_value: str) -> BrowserConsent:
    """The seller opened a setup link: a state bound to this browser (cookie) and Amazon's consent URL."""
    now = deps.clock()
    try:
        token = oauth_state.read_setup_link(deps.signer, token_value, now)
    except oauth_state.InvalidSignedValue as exc:
        raise AuthorizationRefused(str(exc)) from None
    async with deps.pool.acquire() as conn, conn.transaction():
        link = await repository.get_setup_link(conn, token.link_id, token_hash=oauth_state.digest(token_value))
        if link is None or link.connection_id != token.connection_id:
            raise AuthorizationRefused("this setup link is not known")
        if link.revoked_at is not None:
            raise AuthorizationRefused("this setup link was revoked; ask for a new one")
        if link.used_at is not None:
            raise SetupLinkUsed("this setup link was already used to authorize; ask for a new one to authorize again")
        c = await _locked(conn, link.connection_id)
        if c.status == "disconnected":
            raise AuthorizationRefused("this connection was disconnected; ask for a new one")
        state = await _new_state(deps, conn, c, setup_link_id=link.id, browser_bound=True)
        consent = _consent(deps, c, state)
        await _audit(deps, conn, Actor(name=link.id, kind="seller"), "setup_link.opened", c.id, link_id=link.id)
    return BrowserConsent(url=consent.url, cookie=deps.signer.browser_binding(state.nonce))


# --- settings and lifecycle --------------------------------------------------------------------------


async def update_settings(deps: Deps, actor: Actor, connection_id: str, patch: dict[str, Any]) -> Connection:
    """Each setting in `patch` replaced whole; errors name fields as the patch spells them (no prefix)."""
    if not patch:
        raise settings_rules.InvalidSettings([{"field": "body", "message": "no setting to change"}])
    async with deps.pool.acquire() as conn, conn.transaction():
        c = await _locked(conn, connection_id)
        if c.status == "disconnected":
            raise Conflict("a disconnected connection has no settings to change")
        merged = settings_rules.merge(c.settings, patch, prefix="").model_dump(mode="json")
        changed = sorted(k for k in merged if merged[k] != c.settings.get(k))
        if not changed:
            return c
        c = await _publish(deps, conn, dataclasses.replace(c, settings=merged))
        await _audit(deps, conn, actor, "settings.updated", c.id, fields=changed)
    deps.published()
    return c


async def rename(
    deps: Deps, actor: Actor, connection_id: str, *, name: str | None, marketplace_ids: list[str] | None
) -> Connection:
    async with deps.pool.acquire() as conn, conn.transaction():
        c = await _locked(conn, connection_id)
        if c.status == "disconnected":
            raise Conflict("a disconnected connection cannot change")
        new = dataclasses.replace(
            c,
            name=name if name is not None else c.name,
            marketplace_ids=marketplace_ids if marketplace_ids is not None else c.marketplace_ids,
        )
        errors = marketplaces_outside(new.region, new.marketplace_ids)
        if errors:
            raise settings_rules.InvalidSettings(errors)
        try:
            payload(deps, new, [])
        except ValidationError as exc:
            raise settings_rules.InvalidSettings(servicekit.field_errors(exc)) from None
        c = await _publish(deps, conn, new)
        await _audit(deps, conn, actor, "connection.changed", c.id)
    deps.published()
    return c


async def enable(deps: Deps, actor: Actor, connection_id: str) -> Connection:
    return await _set_status(deps, actor, connection_id, "active", allowed_from=("disabled", "active"))


async def disable(deps: Deps, actor: Actor, connection_id: str) -> Connection:
    """Pauses every sync (consumers see status `disabled`); tokens, settings and data stay."""
    return await _set_status(deps, actor, connection_id, "disabled", allowed_from=("active", "disabled", "pending"))


async def _set_status(
    deps: Deps, actor: Actor, connection_id: str, status: str, *, allowed_from: tuple[str, ...]
) -> Connection:
    async with deps.pool.acquire() as conn, conn.transaction():
        c = await _locked(conn, connection_id)
        if c.status not in allowed_from:
            hint = " (it needs the seller's consent first)" if c.status == "pending" else ""
            raise Conflict(f"connection {c.id} is {c.status}; it cannot become {status}{hint}")
        if status == "active" and c.authorized_at is None:
            raise Conflict(f"connection {c.id} has no consent yet; it cannot become active")
        if c.status == status:
            return c
        c = await _publish(deps, conn, dataclasses.replace(c, status=status))
        await _audit(deps, conn, actor, f"connection.{'enabled' if status == 'active' else status}", c.id)
    deps.published()
    return c


async def disconnect(deps: Deps, actor: Actor, connection_id: str) -> Connection:
    """Deletes the refresh token, revokes setup links and publishes `disconnected`, then a tombstone."""
    async with deps.pool.acquire() as conn, conn.transaction():
        c = await _locked(conn, connection_id)
        if c.status == "disconnected":
            return c
        had_token = await repository.delete_refresh_token(conn, c.id)
        await repository.revoke_setup_links_of(conn, c.id, deps.clock())
        c = await _publish(deps, conn, dataclasses.replace(c, status="disconnected"), tombstone=True)
        await _audit(deps, conn, actor, "connection.disconnected", c.id, refresh_token_deleted=had_token)
    deps.access_tokens.invalidate(c.id)
    deps.published()
    return c


# --- test connection ---------------------------------------------------------------------------------


async def test_connection(deps: Deps, actor: Actor, connection_id: str) -> dict[str, Any]:
    """Calls getMarketplaceParticipations and compares Amazon's marketplaces with the configured ones."""
    c = await get(deps, connection_id)
    if c.selling_partner_id is None or c.status == "disconnected":
        raise Conflict(f"connection {c.id} is {c.status}; there is no consent to test")
    client = spapi.SpApiClient(
        endpoint=deps.spapi_endpoint(c.region),
        selling_partner_id=c.selling_partner_id,
        token_source=deps.access_tokens.source(c.id),
        http=deps.http,
        limiter=deps.limiter,
    )
    error: str | None = None
    participations: list[spapi.MarketplaceParticipation] = []
    try:
        # A person is waiting: past a few seconds, Throttled (429 + Retry-After) instead of a hung request.
        participations = await client.sellers.get_marketplace_participations(max_wait=ADMIN_MAX_WAIT)
    except spapi.RateLimited as exc:
        raise Throttled(exc.retry_after) from None
    except NoRefreshToken:
        error = "no consent stored"
    except RefreshRefused:
        error = "Amazon refused the stored consent; the seller must authorize again"
    except lwa_client_alert.ClientCredentialsRejected:
        # The seller's consent may be fine: say so, or an operator sends setup links that cannot help.
        error = "Amazon refused this application's LWA client credentials (rotate LWA_CLIENT_SECRET); not the seller"
    except spapi.SpApiError as exc:
        error = str(exc)
    amazon = sorted(p.marketplace.id for p in participations if p.participation.is_participating)
    configured = sorted(c.marketplace_ids)
    report = {
        "connection_id": c.id,
        "ok": error is None,
        "error": error,
        "marketplaces": [
            {
                "id": p.marketplace.id,
                "name": p.marketplace.name,
                "country_code": p.marketplace.country_code,
                "participating": p.participation.is_participating,
                "has_suspended_listings": p.participation.has_suspended_listings,
            }
            for p in participations
        ],
        "configured_marketplace_ids": configured,
        "missing_at_amazon": sorted(set(configured) - set(amazon)),
        # Amazon also lists its non-retail marketplaces (e.g. A2ZV50J4W1RKNI) as participating; they are not ones a
        # connection could configure, so they are no sign of a misconfiguration.
        "not_configured": sorted(m for m in set(amazon) - set(configured) if m in MARKETPLACES),
        "matches": error is None and set(configured) <= set(amazon),
    }
    async with deps.pool.acquire() as conn:
        await _audit(deps, conn, actor, "connection.tested", c.id, ok=report["ok"], matches=report["matches"])
    return report


# --- internal token API ------------------------------------------------------------------------------


async def issue_access_token(deps: Deps, service: str, connection_id: str, *, renew: bool = False) -> AccessToken:
    """For another service: only active connections get tokens. Audited without the token.

    `renew`: Amazon rejected the token the service holds, so drop the cached one and fetch a new one
    (at most once per connection per 30 s; within that window the renewed token is handed out).
    """
    c = await get(deps, connection_id)
    if c.status != "active":
        raise Conflict(f"connection {c.id} is {c.status}; only active connections get access tokens")
    renewed = deps.access_tokens.force_renewal(c.id) if renew else False
    token = await deps.access_tokens.get(c.id)
    async with deps.pool.acquire() as conn:
        await _audit(
            deps,
            conn,
            Actor(name=service, kind="service"),
            "access_token.issued",
            c.id,
            expires_at=token.expires_at,
            renewal_requested=renew,
            renewed=renewed,
        )
    ISSUED.labels(service).inc()
    return token


# --- deadlines and key rotation ----------------------------------------------------------------------


async def publish_changed_warnings(deps: Deps) -> int:
    """Publishes connection.updated for each connection whose deadline warnings changed; returns how many."""
    published = 0
    for c in await list_all(deps):
        if c.status == "disconnected":
            continue
        codes = [w.code for w in current_warnings(deps, c)]
        if codes == c.published_warnings:
            continue
        async with deps.pool.acquire() as conn, conn.transaction():
            locked = await _locked(conn, c.id)
            if locked.status == "disconnected":
                continue
            await _publish(deps, conn, locked)
            await _audit(deps, conn, SYSTEM, "warnings.changed", c.id, warnings=codes)
        published += 1
    if published:
        deps.published()
    return published


async def re_encrypt_refresh_tokens(deps: Deps, actor: Actor) -> dict[str, Any]:
    """Re-seals every refresh token under the first (primary) key, so older keys can then be removed."""
    primary = deps.cipher.primary_key_id
    async with deps.pool.acquire() as conn, conn.transaction():
        rows = await repository.refresh_tokens_not_under(conn, primary)
        for row in rows:
            aad = refresh_token_aad(row["connection_id"], row["region"])
            plaintext = unseal(deps.cipher, Sealed(row["key_id"], bytes(row["nonce"]), bytes(row["ciphertext"])), aad)
            await repository.store_refresh_token(
                conn, row["connection_id"], deps.cipher.encrypt(plaintext, aad), deps.clock()
            )
        await _audit(deps, conn, actor, "refresh_tokens.re_encrypted", None, count=len(rows), key_id=primary)
        by_key = await repository.refresh_tokens_by_key(conn)
    return {"re_encrypted": len(rows), "primary_key_id": primary, "refresh_tokens_by_key_id": by_key}


async def audit_trail(deps: Deps, connection_id: str) -> list[dict[str, Any]]:
    await get(deps, connection_id)
    async with deps.pool.acquire() as conn:
        return await repository.audit_entries(conn, connection_id)
