-- Seller cancellations (order.completed with status cancelled), sent as POST_ORDER_ACKNOWLEDGEMENT_DATA feeds.
-- pending -> submitted (feed id and message id recorded) -> accepted | rejected; unknown when createFeed's answer
-- never came (an operator looks: a second feed could cancel twice, which Amazon refuses anyway).
CREATE TABLE cancellations (
    amazon_order_id text PRIMARY KEY,
    connection_id text NOT NULL,
    marketplace_id text NOT NULL,
    cancel_reason text NOT NULL,
    -- NULL: the whole order (nothing shipped); else [{order_item_id, quantity}] of what is left to ship.
    items jsonb,
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'submitted', 'accepted', 'rejected', 'unknown')),
    feed_id text,
    message_id integer,
    result text,
    created_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz
);
CREATE INDEX cancellations_open ON cancellations (connection_id, created_at) WHERE state IN ('pending', 'submitted');
