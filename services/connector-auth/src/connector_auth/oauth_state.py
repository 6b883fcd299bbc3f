"""Signed, expiring values we hand out: OAuth `state`, setup-link tokens and the browser-binding cookie.

The signature (HMAC-SHA256, purpose-separated) proves we issued a value and that nobody edited it; that it
is used only once is enforced by the database rows (`oauth_states.used_at`, `setup_links.revoked_at`).
Random parts come from `secrets` with 256 bits of entropy (ASVS 11.5.1).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

STATE_TTL = timedelta(minutes=10)
SETUP_LINK_TTL = timedelta(days=7)
BROWSER_COOKIE = "connector_auth_oauth"


class InvalidSignedValue(Exception):
    """A value we did not issue, that was edited, or that expired. The message is safe to show."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def digest(value: str) -> bytes:
    """What the database keeps instead of a bearer-like value."""
    return hashlib.sha256(value.encode()).digest()


class Signer:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, purpose: str, body: str) -> bytes:
        return hmac.new(self._key, f"{purpose}\n{body}".encode(), hashlib.sha256).digest()

    def sign(self, purpose: str, payload: dict[str, str | int]) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{_b64(self._mac(purpose, body))}"

    def verify(self, purpose: str, value: str) -> dict[str, str | int]:
        body, sep, mac = value.partition(".")
        try:
            presented = _unb64(mac)
        except ValueError:
            presented = b""
        if not sep or not hmac.compare_digest(presented, self._mac(purpose, body)):
            raise InvalidSignedValue("was not issued by this service or was altered")
        payload = json.loads(_unb64(body))
        if not isinstance(payload, dict):
            raise InvalidSignedValue("is malformed")
        return payload

    def browser_binding(self, nonce: str) -> str:
        return _b64(self._mac("browser-binding", nonce))


@dataclass(frozen=True, slots=True)
class State:
    value: str
    connection_id: str
    nonce: str
    expires_at: datetime

    @property
    def nonce_hash(self) -> bytes:
        return digest(self.nonce)


def issue_state(signer: Signer, connection_id: str, now: datetime) -> State:
    nonce = secrets.token_urlsafe(32)
    expires_at = now + STATE_TTL
    value = signer.sign("oauth-state", {"c": connection_id, "n": nonce, "e": int(expires_at.timestamp())})
    return State(value=value, connection_id=connection_id, nonce=nonce, expires_at=expires_at)


def read_state(signer: Signer, value: str, now: datetime) -> State:
    """Checks signature and expiry; single use is the caller's (database's) job."""
    if not value:
        raise InvalidSignedValue("the state parameter is missing")
    try:
        payload = signer.verify("oauth-state", value)
        state = State(
            value=value,
            connection_id=str(payload["c"]),
            nonce=str(payload["n"]),
            expires_at=datetime.fromtimestamp(int(payload["e"]), UTC),
        )
    except InvalidSignedValue as exc:
        raise InvalidSignedValue(f"the state {exc}") from None
    except (KeyError, TypeError, ValueError):
        raise InvalidSignedValue("the state is malformed") from None
    if now >= state.expires_at:
        raise InvalidSignedValue("the state has expired (it is valid 10 minutes); start the authorization again")
    return state


@dataclass(frozen=True, slots=True)
class SetupLinkToken:
    value: str
    link_id: str
    connection_id: str
    expires_at: datetime


def issue_setup_link(signer: Signer, connection_id: str, now: datetime) -> SetupLinkToken:
    link_id = "sl-" + secrets.token_hex(8)
    expires_at = now + SETUP_LINK_TTL
    value = signer.sign(
        "setup-link",
        {"l": link_id, "c": connection_id, "n": secrets.token_urlsafe(32), "e": int(expires_at.timestamp())},
    )
    return SetupLinkToken(value=value, link_id=link_id, connection_id=connection_id, expires_at=expires_at)


def read_setup_link(signer: Signer, value: str, now: datetime) -> SetupLinkToken:
    try:
        payload = signer.verify("setup-link", value)
        link = SetupLinkToken(
            value=value,
            link_id=str(payload["l"]),
            connection_id=str(payload["c"]),
            expires_at=datetime.fromtimestamp(int(payload["e"]), UTC),
        )
    except InvalidSignedValue as exc:
        raise InvalidSignedValue(f"this setup link {exc}") from None
    except (KeyError, TypeError, ValueError):
        raise InvalidSignedValue("this setup link is malformed") from None
    if now >= link.expires_at:
        raise InvalidSignedValue("this setup link has expired; ask for a new one")
    return link
