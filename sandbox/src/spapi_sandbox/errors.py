"""Amazon-shaped failures: every refusal becomes `{"errors": [{code, message, details?}]}` with its status."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"errors": [error]}

    @classmethod
    def invalid_input(cls, message: str, details: str | None = None) -> ApiError:
        return cls(400, "InvalidInput", message, details)

    @classmethod
    def not_found(cls, message: str) -> ApiError:
        return cls(404, "NotFound", message)

    @classmethod
    def unauthorized(cls, details: str = "") -> ApiError:
        return cls(403, "Unauthorized", "Access to requested resource is denied.", details or None)

    @classmethod
    def expired_token(cls) -> ApiError:
        return cls.unauthorized("The access token you provided has expired.")

    @classmethod
    def quota_exceeded(cls) -> ApiError:
        return cls(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")

    @classmethod
    def internal(cls, message: str = "We encountered an internal error. Please try again.") -> ApiError:
        return cls(500, "InternalFailure", message)

    @classmethod
    def unavailable(cls) -> ApiError:
        return cls(503, "ServiceUnavailable", "Service temporarily unavailable. Please try again.")
