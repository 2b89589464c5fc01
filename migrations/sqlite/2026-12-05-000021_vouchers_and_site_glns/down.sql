DROP INDEX sites_gln;
ALTER TABLE sites DROP COLUMN gln;
DROP TABLE trace_vouchers;
