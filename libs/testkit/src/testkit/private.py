"""A Kafka broker, PostgreSQL cluster or ElasticMQ of one test's own, which it may stop and start; removed afterwards.

Tests of outages need their own: the shared broker and cluster serve every other test at the same time.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(script: Path, command: str, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(script), command], env={**os.environ, **env}, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, f"{script.name} {command} failed:\n{done.stdout}{done.stderr}"
    return done.stdout.strip()


@contextmanager
def _workdir() -> Iterator[Path]:
    # Not pytest's tmp_path: as root, initdb runs as the postgres account, which cannot enter pytest's 0700 tree
    # (postgres.sh would fall back to a directory in /tmp that nothing removes).
    path = Path(tempfile.mkdtemp(prefix="connector-private-"))
    try:
        path.chmod(0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True, slots=True)
class PrivatePostgres:
    script: Path
    datadir: Path
    port: int

    def run(self, command: str) -> str:
        """`infra/postgres/postgres.sh <command>` against this cluster: start, stop, status, url or destroy."""
        return _run(self.script, command, {"PG_DATA_DIR": str(self.datadir), "PG_PORT": str(self.port)})

    def start(self) -> None:
        self.run("start")

    def stop(self) -> None:
        self.run("stop")

    @property
    def url(self) -> str:
        return self.run("url")


@dataclass(frozen=True, slots=True)
class PrivateKafka:
    script: Path
    cachedir: Path
    port: int
    controller_port: int

    def run(self, command: str) -> str:
        """`infra/kafka/kafka.sh <command>` against this broker: start, stop or status."""
        env = {
            "KAFKA_CACHE_DIR": str(self.cachedir),
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
        }
        return _run(self.script, command, env)

    def start(self) -> None:
        self.run("start")

    def stop(self) -> None:
        self.run("stop")

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


@contextmanager
def private_postgres(repo_root: Path) -> Iterator[PrivatePostgres]:
    """A started cluster; stopped and its data directory removed on exit, whatever state the test left it in."""
    with _workdir() as workdir:
        cluster = PrivatePostgres(repo_root / "infra" / "postgres" / "postgres.sh", workdir / "postgres", free_port())
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.run("destroy")


@contextmanager
def private_kafka(repo_root: Path) -> Iterator[PrivateKafka]:
    """A started broker (the jars are shared with the local one); stopped and its data removed on exit."""
    with _workdir() as workdir:
        broker = PrivateKafka(repo_root / "infra" / "kafka" / "kafka.sh", workdir / "kafka", free_port(), free_port())
        try:
            broker.start()
            yield broker
        finally:
            broker.stop()


@dataclass(frozen=True, slots=True)
class PrivateSqs:
    script: Path
    cachedir: Path
    port: int
    default_queues: bool = False

    def run(self, command: str) -> str:
        """`infra/elasticmq/elasticmq.sh <command>` against this server: start, stop or status."""
        queues = "default" if self.default_queues else "none"
        env = {"SQS_CACHE_DIR": str(self.cachedir), "SQS_PORT": str(self.port), "SQS_QUEUES": queues}
        return _run(self.script, command, env)

    def start(self) -> None:
        self.run("start")

    def stop(self) -> None:
        self.run("stop")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def queue_url(self, name: str) -> str:
        return f"{self.url}/000000000000/{name}"


@contextmanager
def private_sqs(repo_root: Path, *, default_queues: bool = False) -> Iterator[PrivateSqs]:
    """A started ElasticMQ (jars shared with the local one); its queues live in memory and go when it stops.

    `default_queues`: created at every start from infra/elasticmq/queues.conf (orders-ingest-notifications and its
    dead letters), so a queue survives a restart as a configured one would on AWS.
    """
    with _workdir() as workdir:
        script = repo_root / "infra" / "elasticmq" / "elasticmq.sh"
        server = PrivateSqs(script, workdir / "elasticmq", free_port(), default_queues)
        try:
            server.start()
            yield server
        finally:
            server.stop()
