"""Where the tests' Kafka, PostgreSQL and SQS come from: the environment, else Docker, else the repo's local stack."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class InfrastructureMissing(RuntimeError):
    """Missing infrastructure fails the run; a test never skips for it."""


def repo_root(start: Path) -> Path:
    for candidate in (start, *start.parents):
        if (candidate / "infra" / "kafka" / "kafka.sh").exists():
            return candidate
    raise InfrastructureMissing(f"no infra/kafka/kafka.sh above {start}; run the tests from the repository")


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env().ping()
    except Exception:
        return False
    return True


def _run(script: Path, *args: str) -> str:
    done = subprocess.run([str(script), *args], capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise InfrastructureMissing(f"{script.name} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip()


@contextmanager
def kafka_bootstrap_servers(root: Path) -> Iterator[str]:
    if value := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield value
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    # The local broker is shared and left running: starting it is the slow part, and `make down` stops it.
    _run(root / "infra" / "kafka" / "kafka.sh", "start")
    yield f"127.0.0.1:{os.environ.get('KAFKA_PORT', '19092')}"


@contextmanager
def postgres_url(root: Path) -> Iterator[str]:
    if value := os.environ.get("DATABASE_URL"):
        yield value
        return
    if _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:15") as container:
            yield container.get_connection_url(driver=None)
        return
    script = root / "infra" / "postgres" / "postgres.sh"
    _run(script, "start")
    yield _run(script, "url")


@contextmanager
def sqs_endpoint_url(root: Path) -> Iterator[str]:
    """SQS_ENDPOINT_URL when set; else the repo's local ElasticMQ, started on demand and left running."""
    if value := os.environ.get("SQS_ENDPOINT_URL"):
        yield value
        return
    script = root / "infra" / "elasticmq" / "elasticmq.sh"
    _run(script, "start")
    # Services under test find credentials through AWS's standard chain; ElasticMQ accepts any.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testkit")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testkit")
    yield _run(script, "url")
