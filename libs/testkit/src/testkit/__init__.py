"""pytest plugin and helpers for tests against real Kafka, PostgreSQL, SQS (ElasticMQ) and the SP-API sandbox."""

from testkit.infra import InfrastructureMissing
from testkit.kafka import create_topics, read_topic, unique_name
from testkit.private import (
    PrivateKafka,
    PrivatePostgres,
    PrivateSqs,
    free_port,
    private_kafka,
    private_postgres,
    private_sqs,
)
from testkit.sqs import SqsQueue, sqs_client, sqs_queue
from testkit.waiting import eventually, eventually_sync

__all__ = [
    "InfrastructureMissing",
    "PrivateKafka",
    "PrivatePostgres",
    "PrivateSqs",
    "SqsQueue",
    "create_topics",
    "eventually",
    "eventually_sync",
    "free_port",
    "private_kafka",
    "private_postgres",
    "private_sqs",
    "read_topic",
    "sqs_client",
    "sqs_queue",
    "unique_name",
]
