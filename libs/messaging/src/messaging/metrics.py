"""Prometheus series for event traffic; the admin app's /metrics serves them."""

from prometheus_client import Counter, Gauge

EVENTS_HANDLED = Counter("events_handled_total", "Events applied by a handler", ["topic"])
EVENTS_DEAD_LETTERED = Counter(
    "events_dead_lettered_total", "Events sent to the dead-letter topic", ["topic", "reason"]
)
HANDLER_RETRIES = Counter("handler_retries_total", "Transient handler failures that were retried", ["topic"])
OUTBOX_PUBLISHED = Counter("outbox_published_total", "Outbox rows published to Kafka", ["topic"])
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet published (parked rows excluded)")
OUTBOX_PARKED = Counter(
    "outbox_parked_total", "Outbox rows Kafka will never accept, set aside with their reason", ["topic", "reason"]
)
OUTBOX_OLDEST_UNSENT_PII = Gauge(
    "outbox_oldest_unsent_pii_seconds", "Age of the oldest unsent outbox row of a PII topic (0 when none)"
)
OUTBOX_STALE_PII = Gauge(
    "outbox_stale_pii_rows", "Unsent outbox rows of PII topics older than the relay's alert threshold"
)
RELAY_LEADER = Gauge("outbox_relay_leader", "1 while this process's relay is the one publishing its schema's outbox")
