ALTER TABLE federation_incoming DROP COLUMN sealed_by;
