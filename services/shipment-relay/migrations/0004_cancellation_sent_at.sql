-- When the cancellation's createFeed was sent (NULL: never, or known not taken). A createFeed without an answer
-- (or a crash while it was out) is reconciled by listing the seller's feeds created around this moment.
ALTER TABLE cancellations ADD COLUMN sent_at timestamptz;
