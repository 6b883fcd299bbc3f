from typing import get_args

import pytest
from contracts import (
    DEAD_LETTER_SERVICES,
    TOPICS,
    UnknownTopicError,
    dead_letter_topic,
    kafka_topic_configs,
    kafka_topics,
    topic_spec,
)
from pydantic import BaseModel

DAY_MS = 86_400_000
ARCHITECTURE_TOPICS = {
    "connection.updated",
    "order.received",
    "order.cancelled",
    "stock.changed",
    "stock.published",
    "shipment.created",
    "shipment.confirmed",
    "order.completed",
    "order.redacted",
    "listing.updated",
    "fba.inventory",
}


def test_registry_holds_the_architecture_topics_once():
    names = [spec.name for spec in TOPICS]

    assert len(names) == len(set(names))
    assert set(names) == ARCHITECTURE_TOPICS


@pytest.mark.parametrize("spec", TOPICS, ids=lambda s: s.name)
def test_key_and_identity_fields_are_required_payload_fields(spec):
    fields = spec.payload.model_fields

    for name in (spec.key_field, *spec.identity_fields):
        assert name in fields, name
        assert fields[name].is_required(), name
    assert spec.identity_fields[0] == spec.key_field or spec.key_field in spec.identity_fields


def test_topic_spec_lookup():
    assert topic_spec("stock.changed").key_field == "sku"
    with pytest.raises(UnknownTopicError, match=r"unknown topic 'stock\.change'"):
        topic_spec("stock.change")


def test_partitions_three_for_events_one_for_dead_letters():
    by_name = {t.name: t for t in kafka_topics()}

    assert {by_name[n].partitions for n in ARCHITECTURE_TOPICS} == {3}
    assert {by_name[dead_letter_topic(s)].partitions for s in DEAD_LETTER_SERVICES} == {1}


def test_dead_letter_topics_for_every_consuming_service():
    consumers = {c for spec in TOPICS for c in spec.consumers if c != "internal"}

    assert set(DEAD_LETTER_SERVICES) == consumers
    assert consumers == {"orders-ingest", "catalog-sync", "stock-publisher", "shipment-relay", "pii-redactor"}
    assert dead_letter_topic("orders-ingest") == "dlq.orders-ingest"
    assert [t.name for t in kafka_topics()][-len(DEAD_LETTER_SERVICES) :] == [f"dlq.{s}" for s in DEAD_LETTER_SERVICES]


def test_connection_updated_is_compacted_forever_and_keeps_tombstones_a_week():
    assert kafka_topic_configs(topic_spec("connection.updated")) == {
        "cleanup.policy": "compact",
        "retention.ms": "-1",
        "delete.retention.ms": str(7 * DAY_MS),
    }


def test_stock_topics_keep_seven_days():
    assert kafka_topic_configs(topic_spec("stock.changed")) == {
        "cleanup.policy": "delete",
        "retention.ms": str(7 * DAY_MS),
    }


def test_pii_can_outlive_its_topic_retention_by_at_most_a_segment_and_stays_under_30_days():
    pii_topics = [t for t in kafka_topics() if t.name == "order.received" or t.name.startswith("dlq.")]

    assert len(pii_topics) == 1 + len(DEAD_LETTER_SERVICES)
    for topic in pii_topics:
        worst_case = int(topic.configs["retention.ms"]) + int(topic.configs["segment.ms"])
        assert worst_case < 30 * DAY_MS, topic.name


def test_configs_are_kafka_strings():
    for topic in kafka_topics():
        assert all(isinstance(v, str) for v in topic.configs.values())
        assert topic.configs["cleanup.policy"] in ("delete", "compact")


def _leaf_types(annotation: object) -> set[object]:
    args = get_args(annotation)
    return set().union(*(_leaf_types(a) for a in args)) if args else {annotation}


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for info in model.model_fields.values():
        for leaf in _leaf_types(info.annotation):
            if isinstance(leaf, type) and issubclass(leaf, BaseModel) and leaf not in found:
                found += [m for m in _models(leaf) if m not in found]
    return found


@pytest.mark.parametrize("spec", TOPICS, ids=lambda s: s.name)
def test_unknown_fields_rejected_exactly_where_internal_systems_publish(spec):
    expected = "forbid" if spec.producer == "internal" else "ignore"
    models = _models(spec.payload)

    assert {m.__name__: m.model_config.get("extra") for m in models} == {m.__name__: expected for m in models}
