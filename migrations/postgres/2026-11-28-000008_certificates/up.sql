-- Certificates this node holds or issued (证书台账): its own CA and leaves, its children's CA
-- certificates and its tenants' client certificates, with their status; and the revocation
-- lists it published.
CREATE TABLE issued_certificates (
    serial TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    tenant_id TEXT REFERENCES tenants(id),
    fingerprint TEXT NOT NULL,
    not_before TIMESTAMP NOT NULL,
    not_after TIMESTAMP NOT NULL,
    status TEXT NOT NULL,
    issued_at TIMESTAMP NOT NULL,
    issued_by TEXT NOT NULL,
    revoked_at TIMESTAMP,
    revoked_by TEXT,
    reason TEXT,
    warned_at TIMESTAMP,
    certificate TEXT NOT NULL
);
CREATE INDEX issued_certificates_subject ON issued_certificates(subject, status);
CREATE INDEX issued_certificates_expiry ON issued_certificates(status, not_after);

CREATE TABLE crl_published (
    number BIGINT PRIMARY KEY NOT NULL,
    published_at TIMESTAMP NOT NULL,
    next_update TIMESTAMP NOT NULL,
    revoked INTEGER NOT NULL
);
