"""A private cluster or broker serves its test, and afterwards nothing of it is left: no process, no data directory."""

import hashlib
import os
import socket
import subprocess
from pathlib import Path

import pytest
from testkit import private_kafka, private_postgres


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _fallback_dir(datadir: Path) -> Path:
    # Where postgres.sh puts the data when the postgres account cannot reach the requested directory.
    digest = hashlib.md5(f"{datadir}\n".encode()).hexdigest()
    return Path("/tmp") / f"connector-postgres-{digest[:8]}"


def _show(url: str, setting: str) -> str:
    done = subprocess.run(["psql", url, "-tAc", f"SHOW {setting}"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_private_cluster_is_stopped_and_its_data_removed(repo_root: Path) -> None:
    with private_postgres(repo_root) as cluster:
        assert _show(cluster.url, "port") == str(cluster.port)
        # The cluster trusts loopback; only its superuser may read where the data lives.
        datadir = Path(_show(f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres", "data_directory"))
        assert datadir == cluster.datadir  # reachable by the postgres account: no /tmp fallback
        cluster.stop()
        assert not _answers(cluster.port)
        cluster.start()
        assert _answers(cluster.port)
    assert not _answers(cluster.port)
    assert not datadir.exists()
    assert not cluster.datadir.parent.exists()


@pytest.mark.skipif(
    os.geteuid() != 0, reason="the /tmp fallback exists only for root, whose tree postgres cannot enter"
)
def test_destroy_removes_the_tmp_fallback_too(repo_root: Path, tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    script = repo_root / "infra" / "postgres" / "postgres.sh"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PG_DATA_DIR": str(tmp_path / "unreachable" / "data"), "PG_PORT": str(port)}
    fallback = _fallback_dir(tmp_path / "unreachable" / "data")
    try:
        started = subprocess.run([str(script), "start"], env=env, capture_output=True, text=True, timeout=120)
        assert started.returncode == 0, started.stderr
        assert str(fallback) in started.stdout
        assert (fallback / "PG_VERSION").exists()
    finally:
        destroyed = subprocess.run([str(script), "destroy"], env=env, capture_output=True, text=True, timeout=120)
    assert destroyed.returncode == 0, destroyed.stderr
    assert not fallback.exists()
    assert not _answers(port)


def test_destroy_refuses_the_shared_local_cluster(repo_root: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PG_DATA_DIR"}
    done = subprocess.run(
        [str(repo_root / "infra" / "postgres" / "postgres.sh"), "destroy"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "PG_DATA_DIR" in done.stderr


@pytest.mark.slow
def test_a_private_broker_is_stopped_and_its_data_removed(repo_root: Path) -> None:
    with private_kafka(repo_root) as broker:
        assert _answers(broker.port)
        cachedir = broker.cachedir
        assert (cachedir / "data" / "meta.properties").exists()
    assert not _answers(broker.port)
    assert not cachedir.parent.exists()
