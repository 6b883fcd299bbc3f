"""Amazon orders and cancellations into Kafka (order.received, order.cancelled)."""
