-- The digest of each audit row, recorded with it: sha256 (the rows before this migration) or
-- sm3 (GB/T 32905), chosen by security.audit_digest. A row is verified with its own digest.
ALTER TABLE audit_log ADD COLUMN digest TEXT NOT NULL DEFAULT 'sha256';
