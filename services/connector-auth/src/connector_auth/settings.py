"""Environment of connector-auth; read once, in main.py, and handed to the composition root.

Every secret is required and has no default: a missing one stops the process naming the variable.
"""

from __future__ import annotations

from pydantic import AwareDatetime, Field, SecretStr, field_validator
from servicekit import ServiceSettings

from connector_auth import crypto, service_auth

# Login with Amazon serves every region from one host (spapi-brief §2.1).
AMAZON_LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"  # noqa: S105 - a URL


class Settings(ServiceSettings):
    # `service-name:token,…` for the callers of the internal access-token API.
    service_tokens: SecretStr
    # `kid:key,…`, key = urlsafe base64 of 32 random bytes; the first encrypts, all decrypt.
    token_encryption_keys: SecretStr
    # HMAC key for OAuth `state` values, setup links and the browser-binding cookie.
    state_signing_key: SecretStr
    lwa_client_id: str = Field(min_length=1)
    lwa_client_secret: SecretStr
    # The app's id in Seller Central (amzn1.sp.solution.… / amzn1.sellerapps.app.…), sent on the consent URL.
    spapi_application_id: str = Field(min_length=1)
    # Where the browser comes back to: {PUBLIC_BASE_URL}/oauth/callback must be a registered redirect URI.
    public_base_url: str = Field(min_length=1)
    # The listener of the browser-facing routes alone (/setup/*, /oauth/callback), apart from ADMIN_PORT's
    # /admin, /internal and /metrics, so an ingress can expose exactly these. PUBLIC_BASE_URL reaches it.
    public_host: str = "127.0.0.1"
    public_port: int = Field(default=8081, ge=0, le=65535)
    # When the LWA client secret was last rotated; Amazon wants a rotation every 180 days.
    client_secret_rotated_at: AwareDatetime | None = None
    # Where Amazon lives; defaults are Amazon's own hosts, tests and `make up` point them at the sandbox.
    lwa_token_url: str = AMAZON_LWA_TOKEN_URL
    seller_central_url: str | None = None
    spapi_endpoint_url: str | None = None
    # `version=beta` on the consent URL, needed while the app is a draft (error MD1000 otherwise).
    spapi_draft_app: bool = False
    # The SQS queue Amazon sends ORDER_CHANGE to (arn:aws:sqs:<region>:<account>:<name>). Unset: no seller is
    # subscribed, and orders arrive only through orders-ingest's polling.
    notifications_queue_arn: str | None = Field(default=None, pattern=r"^arn:aws:sqs:\S+:\S+:\S+$")
    # The name the application's destination for that queue gets at Amazon.
    notifications_destination_name: str = Field(default="orders-ingest-notifications", min_length=1, max_length=256)

    @field_validator("token_encryption_keys")
    @classmethod
    def _keys_parse(cls, value: SecretStr) -> SecretStr:
        crypto.parse_keys(value)
        return value

    @field_validator("service_tokens")
    @classmethod
    def _service_tokens_parse(cls, value: SecretStr) -> SecretStr:
        service_auth.parse_service_tokens(value)
        return value

    @field_validator("state_signing_key", "lwa_client_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @field_validator("public_base_url", "lwa_token_url", "seller_central_url", "spapi_endpoint_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/") if value else value
