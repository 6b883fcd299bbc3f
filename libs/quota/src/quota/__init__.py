"""Rate limits shared by every replica of a service: token buckets in PostgreSQL that each replica leases a few
tokens at a time from."""

from pathlib import Path

from quota.shared import Grant, Plan, PostgresStore, SharedLimits, Store

# Every service with shared limits applies these (one table of buckets) into its own schema.
MIGRATIONS_DIR = Path(__file__).parent / "migrations"

__all__ = ["MIGRATIONS_DIR", "Grant", "Plan", "PostgresStore", "SharedLimits", "Store"]
