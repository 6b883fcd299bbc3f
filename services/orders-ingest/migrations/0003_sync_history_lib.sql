-- Sync history moves to the synchistory lib (its migrations run before ours): copy the runs and their errors into
-- its tables, keeping ids (published_events.run_id and notifications.run_id point at them), then drop ours.
-- Finer counts go to `counts`; records_succeeded is what our API always showed as succeeded.
INSERT INTO sync_history_runs (id, connection_id, trigger, lane, status, replay, window_from, window_to, record_keys,
                               resync_of, requested_by, created_at, started_at, ended_at, records_succeeded,
                               records_failed, counts, error)
SELECT id, connection_id, trigger, lane, status, replay, window_from, window_to, order_ids, resync_of, requested_by,
       created_at, started_at, ended_at, records_published + records_unchanged + records_skipped, records_failed,
       jsonb_build_object('fetched', records_fetched, 'published', records_published,
                          'unchanged', records_unchanged, 'skipped', records_skipped),
       error
FROM sync_runs ORDER BY id;
SELECT setval(pg_get_serial_sequence('sync_history_runs', 'id'), max(id)) FROM sync_history_runs HAVING count(*) > 0;

INSERT INTO sync_history_errors (id, run_id, record_key, error, at)
SELECT id, run_id, amazon_order_id, error, at FROM sync_run_errors ORDER BY id;
SELECT setval(pg_get_serial_sequence('sync_history_errors', 'id'), max(id)) FROM sync_history_errors
HAVING count(*) > 0;

DROP TABLE sync_run_errors;
DROP TABLE sync_runs;

-- The scheduler now reads the lib's due times instead of scanning every connection: every lane that may have work
-- is due now, and sets its own next due time after its first pass (the schedules keep the poll's times).
INSERT INTO sync_lanes (connection_id, lane, due_at)
SELECT connection_id, 'poll', now() FROM schedules
UNION
SELECT connection_id, 'notify', now() FROM notifications WHERE run_id IS NULL
UNION
SELECT connection_id, lane, now() FROM sync_history_runs WHERE status IN ('queued', 'running')
ON CONFLICT DO NOTHING;
