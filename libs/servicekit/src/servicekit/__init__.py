"""How a service process lives: settings, logs, Postgres pool, migrations, admin app, workers and lifecycle."""

from servicekit.admin_app import Check, create_admin_app
from servicekit.admin_auth import Principal, Role, parse_admin_tokens, require_role
from servicekit.cli import command_line
from servicekit.entrypoint import Runtime, service_main
from servicekit.garbage_collection import settle_heap
from servicekit.lifecycle import Listener, Worker, WorkerCrashed, run_service
from servicekit.logging import configure_logging, log_context
from servicekit.long_poll import LongPollWorker
from servicekit.migrations import MigrationError, MigrationSource, migrate, migrate_database
from servicekit.outages import Outage, is_outage
from servicekit.periodic import PeriodicWorker
from servicekit.postgres import ping, postgres_pool
from servicekit.problems import Problem, ProblemDetails, ProblemFieldError, field_errors, problem_responses
from servicekit.settings import AdminSettings, PostgresSettings, ServiceSettings

__all__ = [
    "AdminSettings",
    "Check",
    "Listener",
    "LongPollWorker",
    "MigrationError",
    "MigrationSource",
    "Outage",
    "PeriodicWorker",
    "PostgresSettings",
    "Principal",
    "Problem",
    "ProblemDetails",
    "ProblemFieldError",
    "Role",
    "Runtime",
    "ServiceSettings",
    "Worker",
    "WorkerCrashed",
    "command_line",
    "configure_logging",
    "create_admin_app",
    "field_errors",
    "is_outage",
    "log_context",
    "migrate",
    "migrate_database",
    "parse_admin_tokens",
    "ping",
    "postgres_pool",
    "problem_responses",
    "require_role",
    "run_service",
    "service_main",
    "settle_heap",
]
