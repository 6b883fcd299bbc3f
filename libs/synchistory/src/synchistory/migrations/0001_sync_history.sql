-- Sync history of one service (applied in its schema): every run, whatever started it, and its record errors.
-- `trigger` and `lane` hold the values of the service's StrEnums; the code checks them, so a new service's lanes
-- need no migration here.
CREATE TABLE sync_history_runs (
    id                bigserial PRIMARY KEY,
    connection_id     text        NOT NULL,
    trigger           text        NOT NULL,
    lane              text        NOT NULL,
    status            text        NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    replay            boolean     NOT NULL DEFAULT false,
    window_from       timestamptz,
    window_to         timestamptz,
    record_keys       text[],
    resync_of         bigint,
    requested_by      text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    ended_at          timestamptz,
    records_succeeded int         NOT NULL DEFAULT 0,
    records_failed    int         NOT NULL DEFAULT 0,
    -- The service's finer counts (orders-ingest: fetched, published, unchanged, skipped), name -> number.
    counts            jsonb       NOT NULL DEFAULT '{}',
    error             text
);
CREATE INDEX sync_history_runs_by_connection ON sync_history_runs (connection_id, id DESC);
CREATE INDEX sync_history_runs_open ON sync_history_runs (connection_id, lane) WHERE status IN ('queued', 'running');
CREATE INDEX sync_history_runs_ended ON sync_history_runs (ended_at);

CREATE TABLE sync_history_errors (
    id         bigserial PRIMARY KEY,
    run_id     bigint      NOT NULL REFERENCES sync_history_runs ON DELETE CASCADE,
    record_key text,
    error      text        NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_history_errors_by_run ON sync_history_errors (run_id, id);

-- When each (connection, lane) next has work: the scheduler reads only due rows, through the index, so its idle
-- cost does not grow with the number of connections. NULL: nothing to do until someone nudges the lane.
-- `nudges` counts wake-ups, so one that lands while a lane is running is not lost when the lane settles.
CREATE TABLE sync_lanes (
    connection_id text        NOT NULL,
    lane          text        NOT NULL,
    due_at        timestamptz,
    nudges        bigint      NOT NULL DEFAULT 0,
    failures      int         NOT NULL DEFAULT 0,
    PRIMARY KEY (connection_id, lane)
);
CREATE INDEX sync_lanes_due ON sync_lanes (due_at) WHERE due_at IS NOT NULL;
