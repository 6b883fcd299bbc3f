"""Sync history: what each run of a service's sync did, the lanes that run it one replica at a time, and the
routes an operator uses to look at runs and start new ones."""

from pathlib import Path

from synchistory.history import (
    INTERRUPTED,
    OPEN,
    REQUESTED,
    Recovered,
    Run,
    RunSpec,
    RunStatus,
    SyncHistory,
    Trigger,
)
from synchistory.lanes import Lanes, RunFailed, SyncWork
from synchistory.retention import KEEP_FAILED, KEEP_SUCCEEDED, Retention
from synchistory.routes import UNKNOWN_CONNECTION, Refusal, SyncAdmin, sync_routes
from synchistory.scheduler import Scheduler
from synchistory.tally import RecordError, Tally, describe

# Every service with a sync applies these (runs, record errors, lane due times) into its own schema.
MIGRATIONS_DIR = Path(__file__).parent / "migrations"

__all__ = [
    "INTERRUPTED",
    "KEEP_FAILED",
    "KEEP_SUCCEEDED",
    "MIGRATIONS_DIR",
    "OPEN",
    "REQUESTED",
    "UNKNOWN_CONNECTION",
    "Lanes",
    "RecordError",
    "Recovered",
    "Refusal",
    "Retention",
    "Run",
    "RunFailed",
    "RunSpec",
    "RunStatus",
    "Scheduler",
    "SyncAdmin",
    "SyncHistory",
    "SyncWork",
    "Tally",
    "Trigger",
    "describe",
    "sync_routes",
]
