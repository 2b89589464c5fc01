-- The downward mailbox (docs/federation.md): what this node has for its children (the national
-- catalogue, revocation lists, notices), in order; and what came down from its parent.
CREATE TABLE federation_messages (
    seq BIGINT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    origin TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE federation_received (
    parent_seq BIGINT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    origin TEXT NOT NULL,
    payload TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT,
    received_at TIMESTAMP NOT NULL
);

-- Enrolment over the network (入网申请): a would-be child's request, waiting for this node's
-- operator to approve or reject it; the child fetches the outcome with its token.
CREATE TABLE enrolment_requests (
    id TEXT PRIMARY KEY NOT NULL,
    region TEXT NOT NULL,
    tier TEXT NOT NULL,
    name TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    request_pem TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    bundle TEXT,
    source_ip TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    decided_at TIMESTAMP,
    decided_by TEXT
);
CREATE INDEX enrolment_requests_status ON enrolment_requests(status, created_at);
