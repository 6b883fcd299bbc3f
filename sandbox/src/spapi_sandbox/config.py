"""Sandbox settings: one frozen value built by the CLI or by tests, never read from the environment here."""

from __future__ import annotations

import dataclasses
from pathlib import Path


def find_models_dir() -> Path:
    """The official models live beside the repository (../shared/spapi-models); walk up until found."""
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "spapi-models"
        if (candidate / "orders_2026-01-01.json").is_file():
            return candidate
    raise FileNotFoundError("shared/spapi-models not found above the sandbox package; pass models_dir")


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class SandboxConfig:
    speedup: float = 1.0
    lwa_client_id: str | None = None
    lwa_client_secret: str | None = None
    notify_url: str | None = None
    # An SQS-compatible server (ElasticMQ) where SQS destinations' queues live: ARN -> <endpoint>/<account>/<name>.
    sqs_endpoint: str | None = None
    # The application whose id ORDER_CHANGE notifications carry (NotificationMetadata.ApplicationId).
    application_id: str = "amzn1.sp.solution.sandbox-application"
    orders_per_minute: float = 0.0
    models_dir: Path | None = None
    gzip_documents: bool = True
    # Amazon-time durations; each is divided by speedup.
    feed_queue_seconds: float = 5.0
    feed_processing_seconds: float = 10.0
    report_processing_seconds: float = 10.0
    pending_seconds: float = 60.0
    # confirmShipment and patch/putListingsItem are answered at once and take effect this much later.
    write_apply_seconds: float = 30.0
    # searchOrders only sees orders older than this (Amazon: "at least two minutes before now").
    order_visibility_lag_seconds: float = 120.0
    access_token_ttl_seconds: int = 3600
    seed: int | None = None

    def scaled(self, seconds: float) -> float:
        return seconds / self.speedup

    def resolved_models_dir(self) -> Path:
        return self.models_dir if self.models_dir is not None else find_models_dir()
