"""Starts, stops and reports the local system: the SP-API sandbox and every service as background processes.

`python infra/stack.py up|down|status`. Kafka and PostgreSQL are started by the Makefile first. Logs go to
.run/logs, PIDs to .run/pids; local-only secrets are generated once into .cache/local.env (git-ignored).
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / ".run"
LOGS = RUN / "logs"
PIDS = RUN / "pids"
# Beside the local database: its refresh tokens are encrypted with a key from this file, so they live and go together.
LOCAL_ENV = ROOT / ".cache" / "local.env"
SANDBOX_PORT = int(os.environ.get("SANDBOX_PORT", "18100"))
SQS_URL = f"http://127.0.0.1:{os.environ.get('SQS_PORT', '19324')}"


@dataclass(frozen=True)
class Process:
    name: str
    module: str
    port: int
    ready_path: str
    args: tuple[str, ...] = ("serve",)
    # A second listener for what browsers reach (connector-auth's /setup/* and /oauth/callback).
    public_port: int | None = None


PROCESSES = [
    Process("spapi-sandbox", "spapi_sandbox", SANDBOX_PORT, "/_sandbox/requests", ("--port", str(SANDBOX_PORT))),
    Process("connector-auth", "connector_auth", 18101, "/readyz", public_port=18111),
    Process("orders-ingest", "orders_ingest", 18102, "/readyz"),
    Process("stock-publisher", "stock_publisher", 18103, "/readyz"),
    Process("shipment-relay", "shipment_relay", 18104, "/readyz"),
    Process("pii-redactor", "pii_redactor", 18105, "/readyz"),
    Process("catalog-sync", "catalog_sync", 18106, "/readyz"),
]


def local_secrets() -> dict[str, str]:
    """Random per-checkout values for local runs; production values come from Kubernetes Secrets."""
    if not LOCAL_ENV.exists():
        LOCAL_ENV.parent.mkdir(exist_ok=True)
        values = {
            "ADMIN_TOKENS": ",".join(
                f"local-{role}:{role}:{secrets.token_urlsafe(24)}" for role in ("viewer", "operator", "admin")
            ),
            "SERVICE_TOKENS": ",".join(
                f"{p.name}:{secrets.token_urlsafe(24)}" for p in PROCESSES if p.name != "spapi-sandbox"
            ),
            "TOKEN_ENCRYPTION_KEYS": f"local1:{secrets.token_urlsafe(32)}",
            "STATE_SIGNING_KEY": secrets.token_urlsafe(32),
            "LWA_CLIENT_ID": "amzn1.application-oa2-client.local",
            "LWA_CLIENT_SECRET": secrets.token_urlsafe(24),
            "SPAPI_APPLICATION_ID": "amzn1.sp.solution.local",
            "CLIENT_SECRET_ROTATED_AT": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "BUYER_REF_KEY": secrets.token_urlsafe(32),
        }
        LOCAL_ENV.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        LOCAL_ENV.chmod(0o600)
    found = dict(line.split("=", 1) for line in LOCAL_ENV.read_text().splitlines() if "=" in line)
    # Added after checkouts already had their file: appended once, the other values stay as they were.
    added = {}
    if "PII_ENCRYPTION_KEYS" not in found:
        key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        added["PII_ENCRYPTION_KEYS"] = f"local1:{key}"
    if ":pii_reader:" not in found.get("ADMIN_TOKENS", ":pii_reader:"):
        added["ADMIN_TOKENS"] = f"{found['ADMIN_TOKENS']},local-pii_reader:pii_reader:{secrets.token_urlsafe(24)}"
    if added:
        found.update(added)
        LOCAL_ENV.write_text("".join(f"{k}={v}\n" for k, v in found.items()))
    return found


def environment(process: Process) -> dict[str, str]:
    postgres_url = subprocess.run(
        [str(ROOT / "infra/postgres/postgres.sh"), "url"], capture_output=True, text=True, check=True
    ).stdout.strip()
    sandbox = f"http://127.0.0.1:{SANDBOX_PORT}"
    values = local_secrets()
    service_tokens = dict(entry.split(":", 1) for entry in values["SERVICE_TOKENS"].split(","))
    return {
        **os.environ,
        **values,
        # Each caller of connector-auth's token API presents its own token; connector-auth holds them all.
        "SERVICE_TOKEN": service_tokens.get(process.name, ""),
        "DATABASE_URL": postgres_url,
        "KAFKA_BOOTSTRAP_SERVERS": os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
        "ADMIN_PORT": str(process.port),
        "SPAPI_ENDPOINT_URL": sandbox,
        "LWA_TOKEN_URL": f"{sandbox}/auth/o2/token",
        "SELLER_CENTRAL_URL": sandbox,
        "CONNECTOR_AUTH_URL": "http://127.0.0.1:18101",
        "PUBLIC_PORT": "18111",
        "PUBLIC_BASE_URL": "http://127.0.0.1:18111",
        # ElasticMQ (infra/elasticmq, `make sqs`): the queue the sandbox delivers ORDER_CHANGE to, as Amazon would.
        "SQS_ENDPOINT_URL": SQS_URL,
        "NOTIFICATIONS_QUEUE_URL": f"{SQS_URL}/000000000000/orders-ingest-notifications",
        "NOTIFICATIONS_DEAD_LETTER_QUEUE_URL": f"{SQS_URL}/000000000000/orders-ingest-notifications-dlq",
        # connector-auth subscribes every active seller to ORDER_CHANGE on that queue (ElasticMQ's ARN scheme).
        "NOTIFICATIONS_QUEUE_ARN": "arn:aws:sqs:elasticmq:000000000000:orders-ingest-notifications",
        # ElasticMQ accepts any credentials; a developer's own AWS ones are left alone.
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"),
        # stock-publisher reads back what Amazon shows after the sandbox's 30 s write delay.
        "STOCK_APPLY_DELAY_SECONDS": "35",
        # shipment-relay reads a confirmed order back (and reconciles unknown outcomes) after the same delay.
        "SHIPMENT_APPLY_DELAY_SECONDS": "35",
        # pii-redactor's POST /admin/test/clock, so `make demo` can show a redaction without waiting 30 days.
        "TEST_CLOCK_ENABLED": "true" if process.name == "pii-redactor" else "false",
    }


def arguments(process: Process, env: dict[str, str]) -> tuple[str, ...]:
    if process.module != "spapi_sandbox":
        return process.args
    # The sandbox plays Amazon: ORDER_CHANGE goes into ElasticMQ's queue, stamped with our application's id.
    return (*process.args, "--sqs-endpoint", SQS_URL, "--application-id", env["SPAPI_APPLICATION_ID"])


def pid_of(process: Process) -> int | None:
    path = PIDS / f"{process.name}.pid"
    if not path.exists():
        return None
    pid = int(path.read_text())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        path.unlink()
        return None
    return pid


def answers(process: Process) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{process.port}{process.ready_path}", timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def up() -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    PIDS.mkdir(parents=True, exist_ok=True)
    started = []
    for process in PROCESSES:
        if pid_of(process):
            continue
        log = (LOGS / f"{process.name}.log").open("ab")
        env = environment(process)
        child = subprocess.Popen(
            [sys.executable, "-m", process.module, *arguments(process, env)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        (PIDS / f"{process.name}.pid").write_text(str(child.pid))
        started.append(process)
    failed = False
    for process in PROCESSES:
        deadline = time.monotonic() + 60
        while (status := answers(process)) != 200 and time.monotonic() < deadline:
            if not pid_of(process):
                break
            time.sleep(0.3)
        if status != 200:
            failed = True
            print(f"{process.name}: not ready (see {LOGS / (process.name + '.log')})", file=sys.stderr)
    print(f"{'process':<17} {'listens on':<24} log")
    for process in PROCESSES:
        print(f"{process.name:<17} http://127.0.0.1:{process.port:<7} .run/logs/{process.name}.log")
        if process.public_port:
            print(f"{'  (public)':<17} http://127.0.0.1:{process.public_port:<7} /setup/*, /oauth/callback only")
    print("admin API docs at <address>/docs; admin bearer tokens (viewer/operator/admin) are in .cache/local.env")
    return 1 if failed else 0


def down() -> int:
    for process in reversed(PROCESSES):
        pid = pid_of(process)
        if pid is None:
            continue
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while pid_of(process) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_of(process):
            os.killpg(pid, signal.SIGKILL)
        (PIDS / f"{process.name}.pid").unlink(missing_ok=True)
        print(f"{process.name}: stopped")
    return 0


def status() -> int:
    for process in PROCESSES:
        pid = pid_of(process)
        state = f"pid {pid}, HTTP {answers(process)}" if pid else "stopped"
        print(f"{process.name:<17} http://127.0.0.1:{process.port:<7} {state}")
    return 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "status"
    sys.exit({"up": up, "down": down, "status": status}[command]())
