"""The topic registry: the one source for topic names, keys, payload types and Kafka settings.

`make kafka` and the Kubernetes KafkaTopic resources are generated from `kafka_topics()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

from contracts.connections import ConnectionUpdatedV1
from contracts.errors import UnknownTopicError
from contracts.listings import FbaInventoryV1, ListingUpdatedV1
from contracts.orders import OrderCancelledV1, OrderCompletedV1, OrderReceivedV1, OrderRedactedV1
from contracts.shipments import ShipmentConfirmedV1, ShipmentCreatedV1
from contracts.stock import StockChangedV1, StockPublishedV1

__all__ = [
    "DEAD_LETTER_PARTITIONS",
    "DEAD_LETTER_SERVICES",
    "INTERNAL_PRODUCER",
    "TOPICS",
    "KafkaTopic",
    "TopicSpec",
    "dead_letter_topic",
    "kafka_topic_configs",
    "kafka_topics",
    "topic_spec",
]

INTERNAL_PRODUCER = "internal"
"""`producer` of topics the seller's own systems (WMS/OMS/ERP) publish."""

_DAY_MS = 24 * 60 * 60 * 1000
# Kafka deletes whole segments only, so a record lives up to retention + segment.ms. PII topics therefore
# roll a segment daily and keep 28 days, which keeps every copy under Amazon's 30-day bound.
_PII_RETENTION_MS = 28 * _DAY_MS
_PII_SEGMENT_MS = _DAY_MS
# A consumer offline longer than this would miss a tombstone and keep a deleted connection alive.
_TOMBSTONE_RETENTION_MS = 7 * _DAY_MS

# One local broker: 3 partitions is enough to exercise rebalancing; production overrides per overlay.
_PARTITIONS = 3
DEAD_LETTER_PARTITIONS = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class TopicSpec:
    name: str
    key_field: str
    """Payload field whose value is the Kafka key (partitioning and compaction)."""
    payload: type[BaseModel]
    partitions: int
    retention_ms: int | None
    """None keeps records forever (compacted topics)."""
    cleanup_policy: Literal["delete", "compact"]
    pii: bool
    producer: str
    """Service that publishes the topic, or INTERNAL_PRODUCER for the seller's own systems."""
    description: str
    consumers: tuple[str, ...] = ()
    """Our services that consume it, plus INTERNAL_PRODUCER when the seller's systems do."""
    id_fields: tuple[str, ...] = field(default=())
    """Payload fields that, with the revision, identify one event; defaults to (key_field,)."""

    @property
    def identity_fields(self) -> tuple[str, ...]:
        return self.id_fields or (self.key_field,)

    @property
    def major_version(self) -> int:
        return int(self.payload.__name__.rsplit("V", 1)[1])


@dataclass(frozen=True, slots=True, kw_only=True)
class KafkaTopic:
    """What a topic-creation script or a KafkaTopic resource needs, dead-letter topics included."""

    name: str
    partitions: int
    configs: dict[str, str]


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        name="connection.updated",
        key_field="connection_id",
        payload=ConnectionUpdatedV1,
        partitions=_PARTITIONS,
        retention_ms=None,
        cleanup_policy="compact",
        pii=False,
        producer="connector-auth",
        consumers=("orders-ingest", "catalog-sync", "stock-publisher", "shipment-relay", "pii-redactor"),
        description="Current settings of one seller connection (never secrets); a tombstone when deleted.",
    ),
    TopicSpec(
        name="order.received",
        key_field="amazon_order_id",
        payload=OrderReceivedV1,
        partitions=_PARTITIONS,
        retention_ms=_PII_RETENTION_MS,
        cleanup_policy="delete",
        pii=True,
        producer="orders-ingest",
        # shipment-relay keeps only ids, SKUs and quantities, to validate shipments without calling Amazon.
        consumers=("pii-redactor", "shipment-relay", INTERNAL_PRODUCER),
        description="A new order, or a new revision of one (LastUpdateDate), ready to fulfil; carries PII.",
    ),
    TopicSpec(
        name="order.cancelled",
        key_field="amazon_order_id",
        payload=OrderCancelledV1,
        partitions=_PARTITIONS,
        retention_ms=30 * _DAY_MS,
        cleanup_policy="delete",
        pii=False,
        producer="orders-ingest",
        consumers=("pii-redactor", INTERNAL_PRODUCER),
        description="Amazon or the buyer cancelled the order.",
    ),
    TopicSpec(
        name="stock.changed",
        key_field="sku",
        id_fields=("sku", "warehouse_id"),
        payload=StockChangedV1,
        partitions=_PARTITIONS,
        retention_ms=7 * _DAY_MS,
        cleanup_policy="delete",
        pii=False,
        producer=INTERNAL_PRODUCER,
        consumers=("stock-publisher", "catalog-sync"),
        description="Absolute available quantity of one SKU in one warehouse, with as_of.",
    ),
    TopicSpec(
        name="stock.published",
        key_field="sku",
        id_fields=("connection_id", "sku"),
        payload=StockPublishedV1,
        partitions=_PARTITIONS,
        retention_ms=7 * _DAY_MS,
        cleanup_policy="delete",
        pii=False,
        producer="stock-publisher",
        description="The quantity Amazon accepted, or rejected with Amazon's issues.",
    ),
    TopicSpec(
        name="shipment.created",
        key_field="amazon_order_id",
        id_fields=("amazon_order_id", "shipment_id"),
        payload=ShipmentCreatedV1,
        partitions=_PARTITIONS,
        retention_ms=30 * _DAY_MS,
        cleanup_policy="delete",
        pii=False,
        producer=INTERNAL_PRODUCER,
        consumers=("shipment-relay",),
        description="Packages left the warehouse: items, carrier, tracking.",
    ),
    TopicSpec(
        name="shipment.confirmed",
        key_field="amazon_order_id",
        id_fields=("amazon_order_id", "shipment_id"),
        payload=ShipmentConfirmedV1,
        partitions=_PARTITIONS,
        retention_ms=30 * _DAY_MS,
        cleanup_policy="delete",
        pii=False,
        producer="shipment-relay",
        consumers=("pii-redactor",),
        description="Amazon accepted or rejected a shipment confirmation.",
    ),
    TopicSpec(
        name="order.completed",
        key_field="amazon_order_id",
        payload=OrderCompletedV1,
        partitions=_PARTITIONS,
        retention_ms=30 * _DAY_MS,
        cleanup_policy="delete",
        pii=False,
        producer=INTERNAL_PRODUCER,
        consumers=("shipment-relay", "pii-redactor"),
        description="The order is completed, or cancelled by the seller (with a cancel reason).",
    ),
    TopicSpec(
        name="order.redacted",
        key_field="amazon_order_id",
        payload=OrderRedactedV1,
        partitions=_PARTITIONS,
        retention_ms=30 * _DAY_MS,
        cleanup_policy="delete",
        pii=False,
        producer="pii-redactor",
        consumers=(INTERNAL_PRODUCER,),
        description="PII of this order must now be gone everywhere.",
    ),
    TopicSpec(
        name="listing.updated",
        key_field="listing_key",
        payload=ListingUpdatedV1,
        partitions=_PARTITIONS,
        retention_ms=None,
        cleanup_policy="compact",
        pii=False,
        producer="catalog-sync",
        consumers=("stock-publisher", INTERNAL_PRODUCER),
        description="Current state of one Amazon listing and the internal item it is linked to; a tombstone when gone.",
    ),
    TopicSpec(
        name="fba.inventory",
        key_field="listing_key",
        payload=FbaInventoryV1,
        partitions=_PARTITIONS,
        retention_ms=None,
        cleanup_policy="compact",
        pii=False,
        producer="catalog-sync",
        consumers=(INTERNAL_PRODUCER,),
        description="Amazon's FBA quantities of one SKU (fulfillable, inbound, reserved, ...) with as_of.",
    ),
)

_BY_NAME = {spec.name: spec for spec in TOPICS}

DEAD_LETTER_SERVICES: tuple[str, ...] = (
    "orders-ingest",
    "catalog-sync",
    "stock-publisher",
    "shipment-relay",
    "pii-redactor",
)


def topic_spec(name: str) -> TopicSpec:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownTopicError(name, sorted(_BY_NAME)) from None


def dead_letter_topic(service: str) -> str:
    return f"dlq.{service}"


def kafka_topic_configs(spec: TopicSpec) -> dict[str, str]:
    """Kafka topic configs as the strings `kafka-topics.sh --config` and Strimzi expect."""
    configs = {
        "cleanup.policy": spec.cleanup_policy,
        "retention.ms": str(-1 if spec.retention_ms is None else spec.retention_ms),
    }
    if spec.cleanup_policy == "compact":
        configs["delete.retention.ms"] = str(_TOMBSTONE_RETENTION_MS)
    if spec.pii:
        configs["segment.ms"] = str(_PII_SEGMENT_MS)
    return configs


def _dead_letter_configs() -> dict[str, str]:
    # A dead letter is a verbatim copy of a poison record, possibly from order.received, so DLQs get the
    # PII retention bound too.
    return {
        "cleanup.policy": "delete",
        "retention.ms": str(_PII_RETENTION_MS),
        "segment.ms": str(_PII_SEGMENT_MS),
    }


def kafka_topics() -> tuple[KafkaTopic, ...]:
    """Every topic to create: the event topics, then one dead-letter topic per consuming service."""
    events = tuple(KafkaTopic(name=s.name, partitions=s.partitions, configs=kafka_topic_configs(s)) for s in TOPICS)
    dead_letters = tuple(
        KafkaTopic(name=dead_letter_topic(svc), partitions=DEAD_LETTER_PARTITIONS, configs=_dead_letter_configs())
        for svc in DEAD_LETTER_SERVICES
    )
    return events + dead_letters
