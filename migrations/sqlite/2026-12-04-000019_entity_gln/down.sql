DROP INDEX entities_gln;
ALTER TABLE entities DROP COLUMN gln;
