-- The order's items as orders-ingest last published them: ids, SKUs and quantities only (order.received carries
-- buyer and address PII; none of it is kept here).
CREATE TABLE order_items (
    amazon_order_id text NOT NULL,
    order_item_id text NOT NULL,
    sku text NOT NULL,
    quantity_ordered integer NOT NULL,
    quantity_shipped integer NOT NULL,
    last_update_date timestamptz NOT NULL,
    PRIMARY KEY (amazon_order_id, order_item_id)
);

CREATE TABLE shipments (
    shipment_id text PRIMARY KEY,
    connection_id text NOT NULL,
    marketplace_id text NOT NULL,
    amazon_order_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Last outcome published on shipment.confirmed: 'accepted' once every package is decided, 'applied' once
    -- Amazon shows them all; a shipment is published at most once per outcome.
    published text
);
CREATE INDEX shipments_order ON shipments (amazon_order_id);

-- One row per package: its confirmShipment's state machine. pending -> sending -> accepted -> applied, or
-- rejected; sending whose answer never came (timeout, a crash after Amazon's 204) -> unknown, reconciled by
-- reading the order on Amazon after its apply delay, never by sending again blindly.
CREATE TABLE packages (
    shipment_id text NOT NULL REFERENCES shipments ON DELETE CASCADE,
    package_index integer NOT NULL,
    amazon_order_id text NOT NULL,
    -- Unique per order (Amazon's rule): numbered in arrival order of the order's packages.
    package_reference_id text NOT NULL,
    carrier text NOT NULL,
    carrier_code text NOT NULL,
    carrier_name text,
    shipping_method text,
    tracking_number text NOT NULL,
    ship_date timestamptz NOT NULL,
    -- [{order_item_id, sku, quantity}] as the WMS sent them; order_item_id resolved from the SKU when validated.
    items jsonb NOT NULL,
    state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sending', 'accepted', 'applied', 'rejected', 'unknown')),
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    decided_at timestamptz,
    reason text,
    error_code text,
    error_message text,
    PRIMARY KEY (shipment_id, package_index),
    UNIQUE (amazon_order_id, package_reference_id)
);
CREATE INDEX packages_due ON packages (created_at) WHERE state IN ('pending', 'unknown', 'sending', 'accepted');
