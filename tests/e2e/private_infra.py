"""A private Kafka broker and PostgreSQL cluster that a test may stop and start without disturbing the others."""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrivateInfra:
    root: Path
    workdir: Path
    kafka_port: int
    controller_port: int
    pg_port: int

    @classmethod
    def create(cls, root: Path, workdir: Path) -> PrivateInfra:
        return cls(root, workdir, free_port(), free_port(), free_port())

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_CACHE_DIR": str(self.workdir / "kafka"),
            "KAFKA_PORT": str(self.kafka_port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "PG_DATA_DIR": str(self.workdir / "postgres"),
            "PG_PORT": str(self.pg_port),
        }

    def _run(self, script: str, command: str) -> str:
        done = subprocess.run(
            [str(self.root / "infra" / script), command], env=self._env(), capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip()

    def kafka(self, command: str) -> str:
        return self._run("kafka/kafka.sh", command)

    def postgres(self, command: str) -> str:
        return self._run("postgres/postgres.sh", command)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"
