DROP INDEX devices_created;
DELETE FROM devices WHERE entity_id IS NULL;
ALTER TABLE devices ALTER COLUMN entity_id SET NOT NULL;
