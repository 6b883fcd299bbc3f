-- A notification may concern several connections of one seller (each fetches; the seller-wide dedupe publishes
-- once), and a notification whose run failed waits before it is tried again, a few times at most.
ALTER TABLE notifications DROP CONSTRAINT notifications_pkey;
ALTER TABLE notifications ADD PRIMARY KEY (notification_id, connection_id);
ALTER TABLE notifications ADD COLUMN attempts int NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN not_before timestamptz NOT NULL DEFAULT now();
