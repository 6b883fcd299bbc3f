"""A PostgreSQL cluster of one test's own, which it may stop and start; its data directory is removed afterwards."""

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


@dataclass
class PrivatePostgres:
    script: Path
    datadir: Path
    port: int

    def run(self, command: str) -> str:
        env = {**os.environ, "PG_DATA_DIR": str(self.datadir), "PG_PORT": str(self.port)}
        done = subprocess.run([str(self.script), command], env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout.strip()

    def start(self) -> None:
        self.run("start")

    def stop(self) -> None:
        self.run("stop")

    @property
    def url(self) -> str:
        return self.run("url")


@contextmanager
def private_postgres(repo_root: Path) -> Iterator[PrivatePostgres]:
    # Not pytest's tmp_path: when tests run as root, initdb runs as the postgres account, which cannot enter it.
    workdir = Path(tempfile.mkdtemp(prefix="private-pg-"))
    workdir.chmod(0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    cluster = PrivatePostgres(repo_root / "infra" / "postgres" / "postgres.sh", workdir / "data", port)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(workdir)
