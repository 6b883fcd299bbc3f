"""Internal token API: other services get short-lived access tokens; only connector-auth holds refresh tokens."""

# No `from __future__ import annotations`: FastAPI must see the route's dependency type, built at run time.
from datetime import datetime
from typing import Annotated

import servicekit
import spapi
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel
from servicekit import problem_responses

from connector_auth import connections, lwa_client_alert
from connector_auth.access_tokens import NoRefreshToken, RefreshRefused
from connector_auth.admin_requests import ConnectionIdPath
from connector_auth.deps import Deps
from connector_auth.service_auth import ServiceAuthenticator


def client_rejected() -> servicekit.Problem:
    """Not the seller's doing: the caller retries later and must not ask anyone to re-authorize."""
    return servicekit.Problem(
        503,
        "Login with Amazon refused connector-auth's client credentials; an operator must rotate LWA_CLIENT_SECRET",
        kind=spapi.AuthErrorKind.CLIENT_REJECTED.value,
    )


class IssuedAccessToken(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - a token kind, not a secret
    expires_at: datetime


def router(deps: Deps, authenticate: ServiceAuthenticator) -> APIRouter:
    api = APIRouter(prefix="/internal", tags=["internal"])
    Service = Annotated[str, Depends(authenticate)]

    @api.post("/connections/{connection_id}/access-token", responses=problem_responses(401, 404, 409, 502, 503))
    async def access_token(
        connection_id: ConnectionIdPath,
        service: Service,
        response: Response,
        renew: Annotated[
            bool,
            Query(
                description="Amazon rejected the token you hold (401/403): drop it and renew."
                " At most one renewal per connection per 30 s; within that window you get the renewed token."
            ),
        ] = False,
    ) -> IssuedAccessToken:
        """A cached LWA access token of an active connection, renewed ahead of its expiry; audited."""
        response.headers["Cache-Control"] = "no-store"
        try:
            token = await connections.issue_access_token(deps, service, connection_id, renew=renew)
        except NoRefreshToken:
            raise connections.Conflict(f"connection {connection_id} has no consent stored") from None
        except RefreshRefused:
            raise connections.Conflict(
                f"Amazon refused the consent of connection {connection_id}; the seller must authorize again",
                kind=spapi.AuthErrorKind.GRANT_REJECTED.value,
            ) from None
        except lwa_client_alert.ClientCredentialsRejected:
            raise client_rejected() from None
        except spapi.AuthError as exc:
            # Its text names the grant and Amazon's codes only, never a token.
            raise connections.UpstreamFailed(str(exc)) from None
        return IssuedAccessToken(access_token=token.value.get_secret_value(), expires_at=token.expires_at)

    return api
