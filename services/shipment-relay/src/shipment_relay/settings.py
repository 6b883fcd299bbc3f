"""Environment of shipment-relay; read once, in main.py, and handed to the composition root."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from servicekit import ServiceSettings


class Settings(ServiceSettings):
    # Where connector-auth's internal token API lives, and this service's own bearer token for it.
    connector_auth_url: str
    service_token: SecretStr
    # Default: the connection's regional Amazon host. Point it at the sandbox locally.
    spapi_endpoint_url: str | None = None
    # Only for a sped-up sandbox: multiplies Amazon's rate limits, divides the apply delay and retry delays.
    sandbox_speedup: float = Field(default=1.0, gt=0)
    # The consumer group of shipment.created, order.received and connection.updated.
    consumer_group: str = "shipment-relay"
    # Amazon's time from accepting a confirmation to showing it on the order; reconciliation and the
    # read-back wait this long (÷ speedup).
    shipment_apply_delay_seconds: float = Field(default=60.0, ge=0)
    # A package left in `sending` longer than this (a crash between Amazon's answer and our commit) is unknown.
    shipment_sending_lease_seconds: float = Field(default=120.0, gt=0)
    # How long a call to Amazon may take before it is given up; a confirmShipment given up is unknown and is
    # reconciled by reading the order after the apply delay, never sent again blindly.
    spapi_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    # Packages confirmed at the same time (across connections; each connection has its own rate limit).
    shipment_concurrency: int = Field(default=64, ge=1, le=1000)

    @model_validator(mode="after")
    def _speedup_only_against_a_sandbox(self) -> Settings:
        if self.sandbox_speedup != 1.0 and not self.spapi_endpoint_url:
            raise ValueError("SANDBOX_SPEEDUP is only allowed with SPAPI_ENDPOINT_URL pointing at a sandbox")
        return self
