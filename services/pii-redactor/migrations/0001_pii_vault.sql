-- The buyer PII vault, its redaction schedule and the reveal audit log.
-- PII lives only in `vault.sealed` (AES-256-GCM, see crypto.py); every other column is a plain order fact.

-- One row per (connection, Amazon order). Created by whichever event arrives first, so clock facts that come
-- before order.received are not lost. A redacted row stays as a tombstone: a replay of order.received sees
-- `redacted_at` and stores nothing.
CREATE TABLE vault (
    connection_id     text        NOT NULL,
    amazon_order_id   text        NOT NULL,
    marketplace_id    text,
    status            text,
    purchase_date     timestamptz,
    last_update_date  timestamptz,
    -- The encrypted JSON of the PII fields; NULL before order.received and after redaction.
    key_id            text,
    nonce             bytea,
    sealed            bytea,
    pii_fields        text[]      NOT NULL DEFAULT '{}',
    -- The clock: completion/cancellation and the latest accepted shipment confirmation.
    completed_at      timestamptz,
    cancelled_at      timestamptz,
    last_shipped_at   timestamptz,
    clock_started_at  timestamptz,
    clock_source      text,
    -- When the job must redact: clock start + retention, or the hard maximum after purchase if never completed.
    redact_at         timestamptz,
    redact_basis      text,
    redacted_at       timestamptz,
    redaction_reason  text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, amazon_order_id),
    CHECK ((sealed IS NULL) = (nonce IS NULL) AND (sealed IS NULL) = (key_id IS NULL)),
    CHECK (redacted_at IS NULL OR sealed IS NULL)
);
-- The job's queue: only rows still holding a schedule.
CREATE INDEX vault_due ON vault (redact_at) WHERE redacted_at IS NULL AND redact_at IS NOT NULL;
CREATE INDEX vault_order ON vault (amazon_order_id);
CREATE INDEX vault_redacted ON vault (redacted_at DESC) WHERE redacted_at IS NOT NULL;

-- Who saw or erased which order's PII, when and why. Append-only: no column here holds PII.
CREATE TABLE audit_log (
    id               bigserial   PRIMARY KEY,
    at               timestamptz NOT NULL,
    actor            text        NOT NULL,
    action           text        NOT NULL,
    connection_id    text        NOT NULL,
    amazon_order_id  text        NOT NULL,
    reason           text        NOT NULL,
    outcome          text        NOT NULL
);
CREATE INDEX audit_log_order ON audit_log (amazon_order_id);
