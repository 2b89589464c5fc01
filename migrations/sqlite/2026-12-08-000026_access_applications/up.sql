-- Platform access (平台接入管理): the applications third-party traceability platforms and
-- enterprise systems file on the public form, their review, and their filing (备案), which
-- makes the tenant and its credentials. The applicant checks its status with a token whose
-- hash alone is kept.
CREATE TABLE access_applications (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    kind TEXT NOT NULL,
    org_name TEXT NOT NULL,
    org_code TEXT NOT NULL,
    region TEXT NOT NULL,
    contact_name TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    system_name TEXT NOT NULL,
    system_operator TEXT NOT NULL,
    details TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    source_ip TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    reviewed_by TEXT,
    reviewed_at TIMESTAMP,
    reason TEXT NOT NULL DEFAULT '',
    filing_number TEXT,
    filed_by TEXT,
    filed_at TIMESTAMP,
    tenant_id TEXT,
    changed_by TEXT,
    changed_at TIMESTAMP
);
CREATE INDEX access_applications_status ON access_applications (status, created_at);
CREATE INDEX access_applications_source ON access_applications (source_ip, created_at);
CREATE UNIQUE INDEX access_applications_filing ON access_applications (filing_number);
