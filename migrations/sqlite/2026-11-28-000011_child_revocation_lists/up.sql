-- Revocation lists go up (docs/federation.md): a node keeps each list it publishes to send it to
-- its parent, and a parent keeps the newest list of each child's CA, which its listener
-- trusts alongside its own and those of the CAs above.
ALTER TABLE crl_published ADD COLUMN pem TEXT;

CREATE TABLE child_revocation_lists (
    child_region TEXT PRIMARY KEY NOT NULL,
    number BIGINT NOT NULL,
    pem TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL
);
