"""Names on the wire: a namespace prefixes topics, dead letters and consumer groups; routes stay registry names."""

import pytest
from contracts import UnknownTopicError
from messaging import Consumer, KafkaSettings, namespaced
from pydantic import ValidationError


def test_without_a_namespace_the_wire_speaks_registry_names() -> None:
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:1")
    assert (kafka.topic("order.received"), kafka.group("orders-ingest")) == ("order.received", "orders-ingest")


def test_a_namespace_prefixes_topics_dead_letters_and_groups() -> None:
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:1", namespace="pr-42.ci")
    assert kafka.topic("order.received") == "pr-42.ci.order.received"
    assert kafka.topic("dlq.orders-ingest") == "pr-42.ci.dlq.orders-ingest"
    assert kafka.group("orders-ingest") == "pr-42.ci.orders-ingest"
    assert namespaced("pr-42.ci", "connection.updated") == "pr-42.ci.connection.updated"


@pytest.mark.parametrize("namespace", ["with space", "trailing.", ".leading", "a..b", "slash/no", "x" * 101])
def test_a_namespace_that_cannot_prefix_a_kafka_topic_is_refused(namespace: str) -> None:
    with pytest.raises(ValidationError):
        KafkaSettings(bootstrap_servers="127.0.0.1:1", namespace=namespace)


def test_a_route_outside_the_registry_is_refused_at_start() -> None:
    async def handler(_: object) -> None:
        return None

    with pytest.raises(UnknownTopicError):
        Consumer(
            KafkaSettings(bootstrap_servers="127.0.0.1:1", namespace="t"),
            service="svc",
            group_id="svc",
            routes={"t.stock.changed": handler},
            producer=None,  # type: ignore[arg-type]
        )
