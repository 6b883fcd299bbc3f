-- Rows Kafka will never accept (too large, a topic that cannot exist) are parked with their reason instead of
-- blocking the rows behind them; the relay reads only rows neither sent nor parked.
ALTER TABLE outbox
    ADD COLUMN parked_at   timestamptz,
    ADD COLUMN park_reason text;

DROP INDEX outbox_unsent;
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL AND parked_at IS NULL;
-- The purge deletes by age: sent rows (PII topics within minutes, the rest after a day) and parked rows.
CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX outbox_parked_at ON outbox (parked_at) WHERE parked_at IS NOT NULL;
