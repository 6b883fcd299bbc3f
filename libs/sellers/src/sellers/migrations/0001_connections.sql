-- Connections as last seen on connection.updated (highest revision wins). Settings carry no secrets.
-- IF NOT EXISTS: orders-ingest created this very table (same columns, same index) in its own 0001 before this
-- lib existed, and applied migrations are never edited; on its databases this migration only records that the
-- table is now the lib's. Every later change to it is a new migration here.
CREATE TABLE IF NOT EXISTS connections (
    connection_id      text PRIMARY KEY,
    revision           int         NOT NULL,
    status             text        NOT NULL,
    region             text        NOT NULL,
    marketplace_ids    text[]      NOT NULL,
    selling_partner_id text,
    settings           jsonb       NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS connections_seller ON connections (selling_partner_id);
