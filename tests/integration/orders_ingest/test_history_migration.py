"""A database from before the synchistory lib (a `make up` one) migrates forward: its history moves, nothing lost."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import asyncpg
import messaging
from orders_ingest import admin, bootstrap
from servicekit import MigrationSource, migrate

ORDERS_INGEST = Path(bootstrap.__file__).resolve().parents[2] / "migrations"
BEFORE_THE_LIB = ["0001_orders_ingest.sql", "0002_notification_retries.sql"]


async def test_runs_errors_and_due_work_move_into_the_libs_tables(empty_database_url: str, tmp_path: Path) -> None:
    for name in BEFORE_THE_LIB:
        shutil.copy(ORDERS_INGEST / name, tmp_path / name)
    conn = await asyncpg.connect(empty_database_url, server_settings={"search_path": bootstrap.SCHEMA})
    try:
        await migrate(conn, bootstrap.SCHEMA, [MigrationSource("messaging", messaging.MIGRATIONS_DIR),
                                               MigrationSource(bootstrap.SERVICE, tmp_path)])  # fmt: skip
        await conn.execute(
            """INSERT INTO connections (connection_id, revision, status, region, marketplace_ids, settings)
               VALUES ('conn-old', 1, 'active', 'NA', '{ATVPDKIKX0DER}', '{}');
               INSERT INTO schedules (connection_id, watermark, next_poll_at, cancel_watermark, next_cancel_check_at)
               VALUES ('conn-old', now(), now() + interval '1 hour', now(), now() + interval '1 hour');
               INSERT INTO sync_runs (id, connection_id, trigger, lane, status, window_from, window_to,
                                      started_at, ended_at, records_fetched, records_published, records_unchanged,
                                      records_skipped, records_failed, error)
               VALUES (7, 'conn-old', 'scheduled', 'poll', 'failed', now() - interval '1 h', now(), now(), now(),
                       6, 3, 1, 1, 1, NULL);
               INSERT INTO sync_runs (id, connection_id, trigger, lane, status, order_ids, requested_by)
               VALUES (8, 'conn-old', 'resync', 'poll', 'queued', '{111-1,111-2}', 'ops');
               INSERT INTO sync_run_errors (id, run_id, amazon_order_id, error)
               VALUES (3, 7, '111-9', 'seller_sku: at most 40 characters');
               INSERT INTO notifications (notification_id, connection_id, amazon_order_id)
               VALUES ('n-1', 'conn-other', '111-5');"""
        )
        applied = await migrate(conn, bootstrap.SCHEMA, bootstrap.MIGRATIONS)
        assert "synchistory/0001_sync_history.sql" in applied and "orders-ingest/0003_sync_history_lib.sql" in applied

        old = await conn.fetchrow("SELECT * FROM sync_history_runs WHERE id = 7")
        view = admin.run_view({**dict(old), "counts": json.loads(old["counts"])})
        assert {k: view[k] for k in ("status", "order_ids", "records_fetched", "records_published",
                                     "records_unchanged", "records_skipped", "records_failed",
                                     "records_succeeded")} == {
            "status": "failed", "order_ids": None, "records_fetched": 6, "records_published": 3,
            "records_unchanged": 1, "records_skipped": 1, "records_failed": 1, "records_succeeded": 5,
        }  # fmt: skip
        queued = await conn.fetchrow("SELECT * FROM sync_history_runs WHERE id = 8")
        assert (queued["status"], queued["requested_by"]) == ("queued", "ops")
        assert queued["record_keys"] == ["111-1", "111-2"]
        errors = await conn.fetch("SELECT id, run_id, record_key, error FROM sync_history_errors")
        assert [tuple(e) for e in errors] == [(3, 7, "111-9", "seller_sku: at most 40 characters")]
        # New rows get new ids: published_events.run_id and notifications.run_id keep pointing at the right run.
        assert await conn.fetchval("SELECT nextval(pg_get_serial_sequence('sync_history_runs', 'id'))") == 9
        assert await conn.fetchval("SELECT nextval(pg_get_serial_sequence('sync_history_errors', 'id'))") == 4
        lanes = await conn.fetch("SELECT connection_id, lane, due_at <= now() AS due FROM sync_lanes ORDER BY 1, 2")
        assert [tuple(r) for r in lanes] == [("conn-old", "poll", True), ("conn-other", "notify", True)]
        assert await conn.fetchval("SELECT to_regclass('sync_runs')") is None
        assert await conn.fetchval("SELECT to_regclass('sync_run_errors')") is None
        assert await migrate(conn, bootstrap.SCHEMA, bootstrap.MIGRATIONS) == []
    finally:
        await conn.close()
