"""A private Kafka broker and PostgreSQL cluster that a test may stop and start without disturbing the others."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from testkit import PrivateKafka, PrivatePostgres, free_port, private_kafka, private_postgres

__all__ = ["PrivateInfra", "free_port", "private_infra"]


@dataclass(frozen=True, slots=True)
class PrivateInfra:
    broker: PrivateKafka
    cluster: PrivatePostgres

    def kafka(self, command: str) -> str:
        return self.broker.run(command)

    def postgres(self, command: str) -> str:
        return self.cluster.run(command)

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap


@contextmanager
def private_infra(repo_root: Path) -> Iterator[PrivateInfra]:
    """Both started; on exit both stopped and their data removed (testkit.private)."""
    with private_kafka(repo_root) as broker, private_postgres(repo_root) as cluster:
        yield PrivateInfra(broker, cluster)
