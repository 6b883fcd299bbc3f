-- PII-minimal delivery: order.received carried only a reference; the address is fetched from Amazon for a label.
ALTER TABLE vault ADD COLUMN pii_reference text;
