"""Typed SP-API errors that carry Amazon's errors[] list and never a token, secret or PII."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class AmazonError(BaseModel):
    """One entry of Amazon's `errors[]` list (every model's `Error` definition)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    code: str
    message: str = ""
    details: str | None = None


class SpApiError(Exception):
    """Base of every error raised by this package.

    The message names the operation, the status and Amazon's error codes and messages only: no
    URL (it can carry SKUs and order ids of many calls), no headers, no request body.
    """

    status: int | None = None

    def __init__(
        self,
        operation: str,
        *,
        status: int | None = None,
        errors: Sequence[AmazonError] = (),
        request_id: str | None = None,
        reason: str = "",
    ) -> None:
        self.operation = operation
        if status is not None:
            self.status = status
        self.errors: list[AmazonError] = list(errors)
        self.request_id = request_id
        self.reason = reason
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [f"{self.operation}"]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.reason:
            parts.append(self.reason)
        parts.extend(f"{e.code}: {e.message}" if e.message else e.code for e in self.errors)
        if self.request_id:
            parts.append(f"x-amzn-RequestId={self.request_id}")
        return " | ".join(parts)

    @property
    def codes(self) -> list[str]:
        return [e.code for e in self.errors]


class InvalidInput(SpApiError):
    """400: fix the request; retrying it unchanged cannot succeed."""

    status = 400


class Unauthorized(SpApiError):
    """401: the access token is malformed or missing."""

    status = 401


class Forbidden(SpApiError):
    """403: access denied, missing role, or an expired or revoked token."""

    status = 403


class NotFound(SpApiError):
    status = 404


class PayloadTooLarge(InvalidInput):
    status = 413


class UnsupportedMediaType(InvalidInput):
    status = 415


class Throttled(SpApiError):
    """429 after every retry was spent."""

    status = 429


class RateLimited(SpApiError):
    """Not sent: the caller's `max_wait` would run out before its rate-limit bucket holds a token.

    `retry_after` is the number of seconds until a token is expected (for an HTTP Retry-After).
    """

    def __init__(self, operation: str, *, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(operation, reason=f"rate limit spent; next call possible in {retry_after:.1f} s")


class ServerError(SpApiError):
    """500/503 (or another 5xx) after every retry was spent."""


class RequestTimeout(SpApiError):
    """The call timed out (or the connection failed) after every retry was spent."""


class OutcomeUnknown(RequestTimeout):
    """A write was sent but no answer came back: Amazon may or may not have applied it.

    Not retried automatically, because a blind repeat could apply a shipment confirmation or a
    feed twice; the caller reconciles (e.g. reads the order or lists its feeds) before deciding.
    """


class AuthErrorKind(StrEnum):
    """Who must act on a refused token request; each calls for a different response."""

    # Our LWA client id or secret was refused (`invalid_client`, `unauthorized_client`): a wrong or expired
    # secret (Amazon makes us rotate it every 180 days). Application-wide, an operator's alert; it says
    # nothing about any seller, so no seller is ever marked revoked for it.
    CLIENT_REJECTED = "client_rejected"
    # The grant itself was refused (`invalid_grant`): the seller revoked consent, or a code expired or was
    # used. Only the seller authorizing again helps.
    GRANT_REJECTED = "grant_rejected"
    # Anything else (an unreachable endpoint, a 5xx, another 4xx): a failure to retry later.
    FAILED = "failed"


_CLIENT_CODES = frozenset({"invalid_client", "unauthorized_client"})


class AuthError(SpApiError):
    """Login with Amazon or the internal token API refused or failed to issue a token.

    `kind` says who must act (AuthErrorKind). LwaClient raises the subclasses LwaClientRejected and
    LwaGrantRejected for the first two kinds, so callers can tell them apart with `except`.
    """

    kind: AuthErrorKind = AuthErrorKind.FAILED

    def __init__(
        self,
        operation: str,
        *,
        status: int | None = None,
        errors: Sequence[AmazonError] = (),
        request_id: str | None = None,
        reason: str = "",
        kind: AuthErrorKind | None = None,
    ) -> None:
        if kind is not None:
            self.kind = kind
        super().__init__(operation, status=status, errors=errors, request_id=request_id, reason=reason)

    @property
    def retryable(self) -> bool:
        return self.kind is AuthErrorKind.FAILED


class LwaClientRejected(AuthError):
    """LWA refused our client credentials: rotate LWA_CLIENT_SECRET; no seller did anything."""

    kind = AuthErrorKind.CLIENT_REJECTED


class LwaGrantRejected(AuthError):
    """LWA refused the refresh token or authorization code: the seller must authorize again."""

    kind = AuthErrorKind.GRANT_REJECTED


def lwa_error_for(status: int, codes: Sequence[str]) -> type[AuthError]:
    """The AuthError class for a token endpoint's refusal, by its OAuth `error` code (RFC 6749 §5.2)."""
    if _CLIENT_CODES.intersection(codes) or (status == 401 and not codes):
        return LwaClientRejected
    if "invalid_grant" in codes:
        return LwaGrantRejected
    return AuthError


def error_for_status(status: int) -> type[SpApiError]:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    if status >= 400:
        return InvalidInput
    return SpApiError


_BY_STATUS: dict[int, type[SpApiError]] = {
    400: InvalidInput,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    429: Throttled,
}
