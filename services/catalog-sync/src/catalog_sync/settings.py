"""Environment of catalog-sync; read once, in main.py, and handed to the composition root."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, model_validator
from servicekit import ServiceSettings


class Settings(ServiceSettings):
    # Where connector-auth's internal token API lives, and this service's own bearer token for it.
    connector_auth_url: str
    service_token: SecretStr
    # Default: the connection's regional Amazon host. Point it at the sandbox locally.
    spapi_endpoint_url: str | None = None
    # Only for a sped-up sandbox: multiplies Amazon's rate limits, divides intervals and waits.
    sandbox_speedup: float = Field(default=1.0, gt=0)
    # The consumer group of connection.updated and stock.changed; tests running a private copy change it.
    consumer_group: str = "catalog-sync"
    # This service's part of Amazon's per-application limits (spapi.APPLICATION_RATE_LIMITS), per operation, as
    # JSON. stock-publisher reads getListingsItem too and each takes half; an operation not named takes it all.
    # An operation without such a limit is refused when the service starts.
    spapi_application_shares: dict[str, Annotated[float, Field(gt=0, le=1)]] = Field(
        default_factory=lambda: {"listings.getListingsItem": 0.5}
    )

    @model_validator(mode="after")
    def _speedup_only_against_a_sandbox(self) -> Settings:
        if self.sandbox_speedup != 1.0 and not self.spapi_endpoint_url:
            raise ValueError("SANDBOX_SPEEDUP is only allowed with SPAPI_ENDPOINT_URL pointing at a sandbox")
        return self
