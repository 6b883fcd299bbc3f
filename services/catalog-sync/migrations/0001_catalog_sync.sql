-- When each connection's catalog import and FBA read are next due (the lanes' due times are the lib's).
CREATE TABLE catalog_schedules (
    connection_id    text PRIMARY KEY REFERENCES connections ON DELETE CASCADE,
    next_catalog_at  timestamptz NOT NULL DEFAULT now(),
    next_fba_at      timestamptz NOT NULL DEFAULT now(),
    catalog_failures integer NOT NULL DEFAULT 0,
    fba_failures     integer NOT NULL DEFAULT 0,
    imported_at      timestamptz
);

-- The last state published on listing.updated per (connection, SKU). No foreign key: a deleted connection's
-- listings stay, so a reconnect continues their revisions instead of reusing event ids.
CREATE TABLE listings (
    connection_id       text NOT NULL,
    sku                 text NOT NULL,
    marketplace_id      text NOT NULL,
    row_hash            text NOT NULL,        -- the report row as last read: unchanged rows cost nothing
    content_hash        text NOT NULL,        -- the published fields: only a different hash is published
    revision            bigint NOT NULL,
    payload             jsonb NOT NULL,
    fulfillment_channel text NOT NULL,
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    published_at        timestamptz NOT NULL DEFAULT now(),
    gone_at             timestamptz,          -- set when the tombstone went out
    PRIMARY KEY (connection_id, sku)
);

-- Operator links: an Amazon SKU stands for an internal item. Unlinked SKUs stand for themselves.
CREATE TABLE sku_links (
    connection_id text NOT NULL,
    sku           text NOT NULL,
    item_id       text NOT NULL,
    linked_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, sku)
);

-- The last fba.inventory published per (connection, SKU).
CREATE TABLE fba_inventory (
    connection_id  text NOT NULL,
    sku            text NOT NULL,
    marketplace_id text NOT NULL,
    content_hash   text NOT NULL,
    fulfillable    integer NOT NULL,
    payload        jsonb NOT NULL,
    as_of          timestamptz NOT NULL,
    read_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, sku)
);

-- The WMS's quantities (stock.changed) of warehouses some connection names as its FBA mirror.
CREATE TABLE warehouse_stock (
    warehouse_id text NOT NULL,
    sku          text NOT NULL,
    available    integer NOT NULL,
    as_of        timestamptz NOT NULL,
    PRIMARY KEY (warehouse_id, sku)
);

-- Differences between that warehouse and Amazon's fulfillable quantity, with when each began.
CREATE TABLE fba_mismatches (
    connection_id text NOT NULL,
    sku           text NOT NULL,
    ours          integer NOT NULL,
    amazon        integer NOT NULL,
    since         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, sku)
);
