-- The GS1 GLN by which EPCIS documents name an entity.
ALTER TABLE entities ADD COLUMN gln TEXT;
CREATE INDEX entities_gln ON entities (gln);
