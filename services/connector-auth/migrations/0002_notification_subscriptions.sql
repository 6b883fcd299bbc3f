-- The application's SQS destination per region (Notifications API), created once and reused by every seller.
CREATE TABLE notification_destinations (
    region         text        NOT NULL,
    arn            text        NOT NULL,
    destination_id text        NOT NULL,
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (region, arn)
);

-- Each connection's ORDER_CHANGE subscription: what Amazon holds, and the last failure while getting there.
-- The wanted state is read from `connections` (active: subscribed; disconnected: deleted), so a failure here
-- never blocks a status change; `next_attempt_at` spaces out the retries.
CREATE TABLE notification_subscriptions (
    connection_id     text PRIMARY KEY REFERENCES connections (id),
    notification_type text        NOT NULL,
    destination_id    text,
    subscription_id   text,
    subscribed_at     timestamptz,
    unsubscribed_at   timestamptz,
    attempts          int         NOT NULL DEFAULT 0,
    last_error        text,
    next_attempt_at   timestamptz,
    updated_at        timestamptz NOT NULL
);
