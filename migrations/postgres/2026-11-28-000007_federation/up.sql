-- Federation (docs/federation.md): the children a node has enrolled, the batches it sends its
-- parent and receives from its children, and what the roll-ups hold at the parent.

-- Registrations forwarded from below keep the region of the node they were registered at.
ALTER TABLE registry_outbox ADD COLUMN source_region TEXT;

-- The nodes this node has signed a CA certificate for.
CREATE TABLE federation_children (
    region TEXT PRIMARY KEY NOT NULL,
    tier TEXT NOT NULL,
    name TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL,
    enrolled_via TEXT NOT NULL,
    enrolled_at TIMESTAMP NOT NULL,
    ca_not_after TIMESTAMP,
    last_contact_at TIMESTAMP,
    last_error TEXT,
    last_error_at TIMESTAMP
);

-- Batches made for the parent, kept until it has applied them (and after, as the record).
CREATE TABLE federation_outgoing (
    kind TEXT NOT NULL,
    batch_no BIGINT NOT NULL,
    batch_id TEXT NOT NULL UNIQUE,
    items BIGINT NOT NULL,
    first_seq BIGINT,
    last_seq BIGINT,
    digest TEXT NOT NULL,
    batch TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    acked_at TIMESTAMP,
    PRIMARY KEY (kind, batch_no)
);
CREATE INDEX federation_outgoing_pending ON federation_outgoing(kind, acked_at, batch_no);

-- Per kind: the lease that keeps one run at a time across processes, and how runs went.
CREATE TABLE federation_uplink (
    kind TEXT PRIMARY KEY NOT NULL,
    lease_holder TEXT,
    lease_until TIMESTAMP,
    collected_through BIGINT NOT NULL,
    last_run_at TIMESTAMP,
    last_ok_at TIMESTAMP,
    last_error TEXT,
    failures_in_a_row INTEGER NOT NULL
);

-- Every batch a child sent, applied or not, with why.
CREATE TABLE federation_incoming (
    id TEXT PRIMARY KEY NOT NULL,
    batch_id TEXT NOT NULL,
    child_region TEXT NOT NULL,
    kind TEXT NOT NULL,
    batch_no BIGINT NOT NULL,
    items BIGINT NOT NULL,
    digest TEXT NOT NULL,
    outcome TEXT NOT NULL,
    code TEXT,
    detail TEXT,
    via TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE INDEX federation_incoming_child ON federation_incoming(child_region, received_at);

-- The last batch applied per child and kind.
CREATE TABLE federation_cursors (
    child_region TEXT NOT NULL,
    kind TEXT NOT NULL,
    batch_no BIGINT NOT NULL,
    batch_id TEXT NOT NULL,
    applied_at TIMESTAMP NOT NULL,
    PRIMARY KEY (child_region, kind)
);

-- Ids of applied batches, so a replay is recognised whatever its number says.
CREATE TABLE federation_applied (
    batch_id TEXT PRIMARY KEY NOT NULL,
    child_region TEXT NOT NULL,
    kind TEXT NOT NULL,
    batch_no BIGINT NOT NULL
);

-- Every registration below this node, newest version per object, with where it came from.
CREATE TABLE federated_registrations (
    source_region TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    payload TEXT NOT NULL,
    via_child TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source_region, object_kind, object_id)
);

-- Each child's latest statistics slice per day: the whole of its jurisdiction, replaced
-- whole when a newer slice arrives.
CREATE TABLE federated_statistics (
    child_region TEXT NOT NULL,
    day TEXT NOT NULL,
    region TEXT NOT NULL,
    category TEXT NOT NULL,
    stage TEXT NOT NULL,
    direction TEXT NOT NULL,
    records BIGINT NOT NULL,
    quantity_milli BIGINT NOT NULL,
    amount_fen BIGINT NOT NULL,
    priced BIGINT NOT NULL,
    price_fen_sum BIGINT NOT NULL,
    PRIMARY KEY (child_region, day, region, category, stage, direction)
);

-- The digest of each day's slice as last queued for the parent.
CREATE TABLE statistics_sent (
    day TEXT PRIMARY KEY NOT NULL,
    digest TEXT NOT NULL,
    batch_no BIGINT NOT NULL
);

-- Signed heads of each child's audit chain.
CREATE TABLE audit_checkpoints (
    child_region TEXT NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    signed_at TEXT NOT NULL,
    signature TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (child_region, seq)
);
