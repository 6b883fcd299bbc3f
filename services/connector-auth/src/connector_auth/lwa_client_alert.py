"""The application-wide alert for Login with Amazon refusing our own client credentials.

`invalid_client` means our LWA client secret is wrong or expired (Amazon makes us rotate it every 180
days). It breaks every seller at once and no seller can fix it, so it is counted and raised as one gauge
for the operator, and never read as any seller's revocation.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

CLIENT_REJECTED = Counter(
    "connector_auth_lwa_client_rejected_total",
    "Grants Login with Amazon refused because of our client id or secret (invalid_client)",
    ["grant"],
)
CLIENT_REJECTED_NOW = Gauge(
    "connector_auth_lwa_client_credentials_rejected",
    "1 while Login with Amazon's last answer refused our client credentials; alert on it",
)


def rejected(grant: str) -> None:
    CLIENT_REJECTED.labels(grant).inc()
    CLIENT_REJECTED_NOW.set(1)
    # No seller id on purpose: this is about the application, and every seller sees it at once.
    log.error(
        "Login with Amazon refused our client credentials; rotate LWA_CLIENT_SECRET (see the runbook)",
        extra={"grant_type": grant},
    )


def accepted() -> None:
    CLIENT_REJECTED_NOW.set(0)


class ClientCredentialsRejected(Exception):
    """Raised by our use cases instead of a seller-level refusal; the API answers 503 with kind client_rejected."""
