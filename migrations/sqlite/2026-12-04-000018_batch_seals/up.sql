-- The serial of the SM2 signing certificate that sealed a received batch.
ALTER TABLE federation_incoming ADD COLUMN sealed_by TEXT;
