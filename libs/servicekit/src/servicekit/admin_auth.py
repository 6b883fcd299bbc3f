"""Bearer-token auth with roles for admin endpoints: viewer < operator < admin, and pii_reader apart."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from servicekit.problems import ADMIN_AUTH_SCHEME, Problem

# auto_error off: a missing token is answered by `require_role` as a problem, not by FastAPI's own body.
_bearer = HTTPBearer(scheme_name=ADMIN_AUTH_SCHEME, description="A token from ADMIN_TOKENS", auto_error=False)


class Role(IntEnum):
    # Below viewer on purpose: a PII reader may do nothing else, and no other role reads PII. Endpoints that
    # vend PII check for exactly this role (DPP: PII-vending functions behind a dedicated role).
    pii_reader = 0
    viewer = 1
    operator = 2
    admin = 3


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role


def parse_admin_tokens(spec: SecretStr) -> dict[str, Principal]:
    """Parses `name:role:token` entries separated by commas (from a Kubernetes Secret, never a default)."""
    principals: dict[str, Principal] = {}
    for entry in filter(None, (e.strip() for e in spec.get_secret_value().split(","))):
        parts = entry.split(":", 2)
        if len(parts) != 3 or parts[1] not in Role.__members__ or len(parts[2]) < 16:
            # The entry holds a token: name only its position, never its text.
            raise ValueError(
                f"ADMIN_TOKENS entry {len(principals) + 1} must be name:role:token with role in "
                f"{sorted(Role.__members__)} and a token of at least 16 characters"
            )
        principals[parts[2]] = Principal(parts[0], Role[parts[1]])
    return principals


def require_role(minimum: Role) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency: 401 without a valid token, 403 when the token's role is below `minimum` (problems)."""

    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
    ) -> Principal:
        principals: dict[str, Principal] = request.app.state.admin_principals
        presented = credentials.credentials if credentials else ""
        if not presented:
            raise Problem(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        # Compare against every token so the time taken does not reveal which prefix matched.
        found = None
        for token, principal in principals.items():
            if hmac.compare_digest(token.encode(), presented.encode()):
                found = principal
        if found is None:
            raise Problem(401, "invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
        if found.role < minimum:
            raise Problem(403, f"role {found.role.name} may not do this; {minimum.name} is needed")
        return found

    return dependency
