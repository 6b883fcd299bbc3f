"""Bearer-token auth for the services that call the internal token API (SERVICE_TOKENS)."""

from __future__ import annotations

import hashlib
import hmac
import logging

import servicekit
from fastapi import Request
from pydantic import SecretStr

log = logging.getLogger(__name__)


def parse_service_tokens(spec: SecretStr) -> dict[str, str]:
    """`service-name:token,…` into {token: service name}. Errors name a position, never a token."""
    services: dict[str, str] = {}
    for position, entry in enumerate(filter(None, (e.strip() for e in spec.get_secret_value().split(","))), 1):
        name, sep, token = entry.partition(":")
        if not sep or not name or len(token) < 16:
            raise ValueError(f"entry {position} must be service-name:token with a token of at least 16 characters")
        services[token] = name
    if not services:
        raise ValueError("at least one service-name:token entry is needed")
    return services


class ServiceAuthenticator:
    """A FastAPI dependency answering which service presented the bearer token; 401 otherwise."""

    def __init__(self, tokens: dict[str, str]) -> None:
        # Compare digests, so every comparison has the same length and takes the same time.
        self._tokens = [(hashlib.sha256(t.encode()).digest(), name) for t, name in tokens.items()]

    async def __call__(self, request: Request) -> str:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            log.warning("internal API call without a bearer token", extra={"path": request.url.path})
            raise servicekit.Problem(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        digest = hashlib.sha256(presented.encode()).digest()
        found = None
        for known, name in self._tokens:
            if hmac.compare_digest(known, digest):
                found = name
        if found is None:
            log.warning("internal API call with an unknown service token", extra={"path": request.url.path})
            raise servicekit.Problem(401, "invalid service token", headers={"WWW-Authenticate": "Bearer"})
        return found
