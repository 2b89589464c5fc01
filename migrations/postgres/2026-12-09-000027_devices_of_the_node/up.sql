-- A device may belong to a tenant itself rather than to one of its entities: the scanners and
-- terminals a government department of the node runs have no market entity behind them.
ALTER TABLE devices ALTER COLUMN entity_id DROP NOT NULL;
CREATE INDEX devices_created ON devices(created_at);
