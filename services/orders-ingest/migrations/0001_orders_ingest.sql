-- orders-ingest bookkeeping. No PII anywhere in this schema: ids, revisions, statuses, items, schedules, runs.

-- Connections as last seen on connection.updated (highest revision wins). Settings carry no secrets.
CREATE TABLE connections (
    connection_id      text PRIMARY KEY,
    revision           int         NOT NULL,
    status             text        NOT NULL,
    region             text        NOT NULL,
    marketplace_ids    text[]      NOT NULL,
    selling_partner_id text,
    settings           jsonb       NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connections_seller ON connections (selling_partner_id);

-- Poll schedule and LastUpdatedAfter watermarks of one connection.
CREATE TABLE schedules (
    connection_id        text PRIMARY KEY REFERENCES connections ON DELETE CASCADE,
    watermark            timestamptz NOT NULL,
    next_poll_at         timestamptz NOT NULL,
    cancel_watermark     timestamptz NOT NULL,
    next_cancel_check_at timestamptz NOT NULL,
    failures             int         NOT NULL DEFAULT 0
);

-- One row per order we imported (published order.received for at least once): its latest revision.
CREATE TABLE orders (
    selling_partner_id  text        NOT NULL,
    amazon_order_id     text        NOT NULL,
    connection_id       text        NOT NULL,
    marketplace_id      text        NOT NULL,
    last_update_date    timestamptz NOT NULL,
    status              text        NOT NULL,
    fulfillment_channel text        NOT NULL,
    items               jsonb       NOT NULL,
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (selling_partner_id, amazon_order_id)
);
CREATE INDEX orders_by_order_id ON orders (amazon_order_id);

-- What went to the outbox: the dedupe key of "once per (seller, order, revision)".
CREATE TABLE published_events (
    selling_partner_id text        NOT NULL,
    amazon_order_id    text        NOT NULL,
    topic              text        NOT NULL,
    revision           text        NOT NULL,
    event_id           text        NOT NULL,
    run_id             bigint      NOT NULL,
    published_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (selling_partner_id, amazon_order_id, topic, revision)
);

-- Sync history: every run, whatever started it.
CREATE TABLE sync_runs (
    id                bigserial PRIMARY KEY,
    connection_id     text        NOT NULL,
    trigger           text        NOT NULL
        CHECK (trigger IN ('scheduled', 'cancellation_check', 'notification', 'manual', 'resync', 'custom_range')),
    lane              text        NOT NULL CHECK (lane IN ('poll', 'notify')),
    status            text        NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    replay            boolean     NOT NULL DEFAULT false,
    window_from       timestamptz,
    window_to         timestamptz,
    order_ids         text[],
    resync_of         bigint,
    requested_by      text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    ended_at          timestamptz,
    records_fetched   int         NOT NULL DEFAULT 0,
    records_published int         NOT NULL DEFAULT 0,
    records_unchanged int         NOT NULL DEFAULT 0,
    records_skipped   int         NOT NULL DEFAULT 0,
    records_failed    int         NOT NULL DEFAULT 0,
    error             text
);
CREATE INDEX sync_runs_by_connection ON sync_runs (connection_id, id DESC);
CREATE INDEX sync_runs_open ON sync_runs (connection_id, lane) WHERE status IN ('queued', 'running');
CREATE INDEX sync_runs_ended ON sync_runs (ended_at);

CREATE TABLE sync_run_errors (
    id              bigserial PRIMARY KEY,
    run_id          bigint      NOT NULL REFERENCES sync_runs ON DELETE CASCADE,
    amazon_order_id text,
    error           text        NOT NULL,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_run_errors_by_run ON sync_run_errors (run_id, id);

-- ORDER_CHANGE notifications waiting for (or done by) a notification run. Only ids are kept.
CREATE TABLE notifications (
    notification_id text PRIMARY KEY,
    connection_id   text        NOT NULL,
    amazon_order_id text        NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    run_id          bigint
);
CREATE INDEX notifications_pending ON notifications (connection_id, received_at) WHERE run_id IS NULL;
