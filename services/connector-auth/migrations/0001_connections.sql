-- Seller connections: one per seller account and region. The row is kept after disconnecting (audit),
-- only its refresh token goes.
CREATE TABLE connections (
    id                 text PRIMARY KEY,
    name               text        NOT NULL,
    region             text        NOT NULL CHECK (region IN ('NA', 'EU', 'FE')),
    marketplace_ids    text[]      NOT NULL,
    status             text        NOT NULL CHECK (status IN ('pending', 'active', 'disabled', 'disconnected')),
    selling_partner_id text,
    authorized_at      timestamptz,
    settings           jsonb       NOT NULL,
    -- Increases with every published connection.updated; the event id derives from it.
    revision           int         NOT NULL DEFAULT 1,
    -- Warning codes carried by the last published event, so the deadline watch publishes only changes.
    published_warnings text[]      NOT NULL DEFAULT '{}',
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE UNIQUE INDEX connections_one_per_seller_and_region
    ON connections (selling_partner_id, region) WHERE status <> 'disconnected' AND selling_partner_id IS NOT NULL;

-- The crown jewels: AES-256-GCM ciphertext, the id of the key that sealed it, and its 96-bit nonce.
-- The associated data (connection id, region) is not stored: it is rebuilt from the row it belongs to.
CREATE TABLE refresh_tokens (
    connection_id text PRIMARY KEY REFERENCES connections (id),
    key_id        text        NOT NULL,
    nonce         bytea       NOT NULL,
    ciphertext    bytea       NOT NULL,
    stored_at     timestamptz NOT NULL
);

-- OAuth `state` values: only a hash of the random part is kept, so a database reader cannot complete a flow.
CREATE TABLE oauth_states (
    nonce_hash    bytea PRIMARY KEY,
    connection_id text        NOT NULL REFERENCES connections (id),
    setup_link_id text,
    -- Set when the flow started in a browser we gave a cookie to; the callback must then present it.
    browser_bound boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);

-- Links an operator hands to a seller so the seller runs the consent flow; signed, revocable, 7 days.
CREATE TABLE setup_links (
    id            text PRIMARY KEY,
    connection_id text        NOT NULL REFERENCES connections (id),
    token_hash    bytea       NOT NULL UNIQUE,
    created_by    text        NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    used_at       timestamptz
);

-- Who did what to which connection, and every access token handed out (service and time, never the token).
CREATE TABLE audit_log (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL,
    actor         text        NOT NULL,
    actor_kind    text        NOT NULL CHECK (actor_kind IN ('admin', 'service', 'seller', 'system')),
    action        text        NOT NULL,
    connection_id text,
    details       jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_connection ON audit_log (connection_id, at);
