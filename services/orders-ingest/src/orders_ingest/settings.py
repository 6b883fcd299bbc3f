"""Environment of orders-ingest; read once, in main.py, and handed to the composition root."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from servicekit import ServiceSettings


class Settings(ServiceSettings):
    # Where connector-auth's internal token API lives, and this service's own bearer token for it.
    connector_auth_url: str
    service_token: SecretStr
    # HMAC key of the buyer pseudonym (`buyer_ref`). Never defaulted: changing it re-keys every buyer.
    buyer_ref_key: SecretStr = Field(min_length=16)
    # Default: the connection's regional Amazon host. Point it at the sandbox locally.
    spapi_endpoint_url: str | None = None
    # Only for a sped-up sandbox: multiplies Amazon's rate limits, divides poll intervals, overlap and retry delays.
    sandbox_speedup: float = Field(default=1.0, gt=0)
    # The consumer group of connection.updated; tests running a private copy of the service change it.
    consumer_group: str = "orders-ingest"
    # The SQS queue Amazon delivers ORDER_CHANGE to (the application's destination). Unset: no queue is read and
    # the scheduled poll is the only way orders arrive.
    notifications_queue_url: str | None = None
    # Malformed ORDER_CHANGE messages are copied here with their reason before they are deleted; unset: only counted.
    notifications_dead_letter_queue_url: str | None = None
    # Default: AWS's regional SQS endpoint. ElasticMQ locally (infra/elasticmq). Credentials: the AWS default chain.
    sqs_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
    # Long-poll wait of each ReceiveMessage (SQS allows 0-20 s).
    notifications_wait_seconds: int = Field(default=20, ge=0, le=20)
    # Notifications naming another application are dropped; unset accepts any (the sandbox's own id, say).
    spapi_application_id: str | None = None
    # Notifications waiting for a run per connection; beyond it they are dropped (counted), the poll catches up.
    notifications_max_pending_per_connection: int = Field(default=1000, ge=1)

    @model_validator(mode="after")
    def _speedup_only_against_a_sandbox(self) -> Settings:
        if self.sandbox_speedup != 1.0 and not self.spapi_endpoint_url:
            raise ValueError("SANDBOX_SPEEDUP is only allowed with SPAPI_ENDPOINT_URL pointing at a sandbox")
        return self
