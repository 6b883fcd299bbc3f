-- Latest absolute quantity per (internal item, warehouse); older as_of never overwrites newer.
CREATE TABLE stock_levels (
    item_id      text        NOT NULL,
    warehouse_id text        NOT NULL,
    available    integer     NOT NULL,
    as_of        timestamptz NOT NULL,
    PRIMARY KEY (item_id, warehouse_id)
);

-- Amazon listings per connection from catalog-sync's listing.updated (highest revision wins).
-- No foreign key to connections: a listing may arrive before its connection does.
CREATE TABLE listings (
    connection_id      text        NOT NULL,
    sku                text        NOT NULL,
    marketplace_id     text        NOT NULL,
    item_id            text        NOT NULL,
    channel            text        NOT NULL,
    status             text        NOT NULL,
    revision           integer     NOT NULL,
    handling_time_days integer,  -- per-SKU override of the connection's default; NULL: the default
    PRIMARY KEY (connection_id, sku)
);
CREATE INDEX listings_item ON listings (item_id);

-- Items that had stock but no listing anywhere: reported once, forgotten when a listing appears.
CREATE TABLE unlisted_items (
    item_id     text PRIMARY KEY,
    reported_at timestamptz NOT NULL DEFAULT now()
);

-- What was sent to Amazon per (connection, SKU), what Amazon accepted and what it showed on read-back.
CREATE TABLE sku_state (
    connection_id     text        NOT NULL,
    sku               text        NOT NULL,
    sent_quantity     integer,
    sent_handling     integer,
    sent_as_of        timestamptz,
    sent_channel      text,
    sent_at           timestamptz,
    submission_id     text,
    accepted_quantity integer,
    accepted_handling integer,
    accepted_at       timestamptz,
    rejected_quantity integer,
    rejected_handling integer,
    rejected_at       timestamptz,
    issues            jsonb,
    applied_quantity  integer,
    applied_at        timestamptz,
    verify_at         timestamptz,
    drifts            integer     NOT NULL DEFAULT 0,
    in_feed           bigint,  -- feeds.id while the SKU is inside a feed Amazon has not finished
    PRIMARY KEY (connection_id, sku)
);
CREATE INDEX sku_state_verify ON sku_state (connection_id, verify_at) WHERE verify_at IS NOT NULL;

-- A feed's intent is written (content, hash, SKUs) before createFeed, so a restart resubmits the very same
-- document (never other content) or follows the feed Amazon already has.
CREATE TABLE feeds (
    id             bigserial PRIMARY KEY,
    connection_id  text        NOT NULL,
    run_id         bigint,
    content_hash   text        NOT NULL,
    document       bytea       NOT NULL,
    items          jsonb       NOT NULL,  -- message id -> {sku, quantity, handling, as_of}
    marketplace_id text        NOT NULL,
    amazon_feed_id text,
    status         text        NOT NULL DEFAULT 'intent',  -- intent, submitted, DONE, FATAL, CANCELLED
    created_at     timestamptz NOT NULL DEFAULT now(),
    submitted_at   timestamptz,
    next_poll_at   timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz
);
CREATE INDEX feeds_open ON feeds (connection_id, next_poll_at) WHERE finished_at IS NULL;

-- When each connection's next push is due (cadence); NULL: only when a change arrives (near real time).
CREATE TABLE push_schedule (
    connection_id text PRIMARY KEY REFERENCES connections (connection_id) ON DELETE CASCADE,
    next_push_at  timestamptz,
    -- Near real time: the first change not pushed yet; a push waits for a quiet spell, but never longer than
    -- the longest coalesce from here, so a steady stream of changes still goes out.
    pending_since timestamptz
);
