-- A unified social credit code this node registered that is registered elsewhere too, as the
-- node where the two meet announced it: one claim per code and meeting node, for this node's
-- reviewers to keep or withdraw their registration.
CREATE TABLE duplicate_claims (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    found_at TEXT NOT NULL,
    holders TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    received_at TIMESTAMP NOT NULL,
    decided_by TEXT,
    decided_at TIMESTAMP
);
CREATE UNIQUE INDEX duplicate_claims_code ON duplicate_claims (code, found_at);
CREATE INDEX duplicate_claims_status ON duplicate_claims (status, received_at);
