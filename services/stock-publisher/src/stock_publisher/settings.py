"""Environment of stock-publisher; read once, in main.py, and handed to the composition root."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from servicekit import ServiceSettings


class Settings(ServiceSettings):
    # Where connector-auth's internal token API lives, and this service's own bearer token for it.
    connector_auth_url: str
    service_token: SecretStr
    # Default: the connection's regional Amazon host. Point it at the sandbox locally.
    spapi_endpoint_url: str | None = None
    # Only for a sped-up sandbox: multiplies Amazon's rate limits, divides feed polls, apply delay and retries.
    sandbox_speedup: float = Field(default=1.0, gt=0)
    # The consumer group of stock.changed, listing.updated and connection.updated.
    consumer_group: str = "stock-publisher"
    # Near real time: how long changes wait to ride in one push.
    stock_coalesce_seconds: float = Field(default=3.0, ge=0, le=60)
    # Patches or a feed are chosen from the rate limiter's buckets; a push never patches more SKUs than this.
    stock_patch_max_skus: int = Field(default=300, ge=0, le=1000)
    # Amazon's time from accepting a quantity to showing it; the read-back waits this long (÷ speedup).
    stock_apply_delay_seconds: float = Field(default=60.0, ge=0)
    # getFeed polling while a feed is processing (÷ speedup); FEED_PROCESSING_FINISHED is not wired yet.
    stock_feed_poll_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _speedup_only_against_a_sandbox(self) -> Settings:
        if self.sandbox_speedup != 1.0 and not self.spapi_endpoint_url:
            raise ValueError("SANDBOX_SPEEDUP is only allowed with SPAPI_ENDPOINT_URL pointing at a sandbox")
        return self
