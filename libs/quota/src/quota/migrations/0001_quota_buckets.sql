-- Token buckets shared by every replica of one service (applied in its schema). A row is created on first use,
-- full; its rate and burst come with every lease, so a new limit needs no migration.
CREATE TABLE quota_buckets (
    name       text             PRIMARY KEY,
    tokens     double precision NOT NULL,
    updated_at timestamptz      NOT NULL
);
