"""Prometheus series for event traffic; the admin app's /metrics serves them."""

from prometheus_client import Counter, Gauge

EVENTS_HANDLED = Counter("events_handled_total", "Events applied by a handler", ["topic"])
EVENTS_DEAD_LETTERED = Counter(
    "events_dead_lettered_total", "Events sent to the dead-letter topic", ["topic", "reason"]
)
HANDLER_RETRIES = Counter("handler_retries_total", "Transient handler failures that were retried", ["topic"])
OUTBOX_PUBLISHED = Counter("outbox_published_total", "Outbox rows published to Kafka", ["topic"])
OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet published")
