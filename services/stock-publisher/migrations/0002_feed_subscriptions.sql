-- Each connection's FEED_PROCESSING_FINISHED subscription on the application's SQS destination (when notifications
-- are configured): a finished feed is followed at once, getFeed polling slows to a fallback.
CREATE TABLE feed_subscriptions (
    connection_id   text PRIMARY KEY REFERENCES connections (connection_id) ON DELETE CASCADE,
    destination_id  text        NOT NULL,
    subscription_id text,  -- NULL while subscribing failed; polling goes on at its normal pace
    subscribed_at   timestamptz,
    last_error      text,
    next_attempt_at timestamptz
);
