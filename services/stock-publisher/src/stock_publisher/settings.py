"""Environment of stock-publisher; read once, in main.py, and handed to the composition root."""

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
    # Only for a sped-up sandbox: multiplies Amazon's rate limits, divides feed polls, apply delay and retries.
    sandbox_speedup: float = Field(default=1.0, gt=0)
    # The consumer group of stock.changed, listing.updated and connection.updated.
    consumer_group: str = "stock-publisher"
    # This service's part of Amazon's per-application limits (spapi.APPLICATION_RATE_LIMITS), per operation, as
    # JSON. catalog-sync reads getListingsItem too and each takes half; an operation not named takes it all.
    # An operation without such a limit is refused when the service starts.
    spapi_application_shares: dict[str, Annotated[float, Field(gt=0, le=1)]] = Field(
        default_factory=lambda: {"listings.getListingsItem": 0.5}
    )
    # Near real time: how long changes wait to ride in one push.
    stock_coalesce_seconds: float = Field(default=3.0, ge=0, le=60)
    # Patches or a feed are chosen from the rate limiter's buckets; a push never patches more SKUs than this.
    stock_patch_max_skus: int = Field(default=300, ge=0, le=1000)
    # Amazon's time from accepting a quantity to showing it; the read-back waits this long (÷ speedup).
    stock_apply_delay_seconds: float = Field(default=60.0, ge=0)
    # getFeed polling while a feed is processing (÷ speedup), without FEED_PROCESSING_FINISHED.
    stock_feed_poll_seconds: float = Field(default=30.0, gt=0)
    # FEED_PROCESSING_FINISHED: the SQS queue Amazon delivers it to and the application's destination for that
    # queue (createDestination is grantless: whoever holds the LWA client credentials creates it, connector-auth
    # or an operator). Both set: every connection subscribes before its first feed, this queue is read, and
    # getFeed polling slows to STOCK_FEED_POLL_NOTIFIED_SECONDS as the fallback. Unset: polling only.
    stock_notifications_queue_url: str | None = None
    stock_notifications_destination_id: str | None = None
    stock_feed_poll_notified_seconds: float = Field(default=300.0, gt=0)
    # Default: AWS's regional SQS endpoint (credentials: the AWS default chain). ElasticMQ locally.
    sqs_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
    stock_notifications_wait_seconds: int = Field(default=20, ge=0, le=20)

    @model_validator(mode="after")
    def _speedup_only_against_a_sandbox(self) -> Settings:
        if self.sandbox_speedup != 1.0 and not self.spapi_endpoint_url:
            raise ValueError("SANDBOX_SPEEDUP is only allowed with SPAPI_ENDPOINT_URL pointing at a sandbox")
        if bool(self.stock_notifications_queue_url) != bool(self.stock_notifications_destination_id):
            raise ValueError("STOCK_NOTIFICATIONS_QUEUE_URL and STOCK_NOTIFICATIONS_DESTINATION_ID go together")
        return self
