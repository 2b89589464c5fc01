-- What an upper tier searches its rolled-up registrations by: the object's code, name and
-- own region (an entity's region; empty for products and devices), read out of the payload's approved content (`data`).
ALTER TABLE federated_registrations ADD COLUMN code TEXT NOT NULL DEFAULT '';
ALTER TABLE federated_registrations ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE federated_registrations ADD COLUMN region TEXT NOT NULL DEFAULT '';
UPDATE federated_registrations SET
  code = COALESCE(payload::json -> 'data' ->> 'code', ''),
  name = COALESCE(payload::json -> 'data' ->> 'name', ''),
  region = CASE WHEN object_kind = 'entity' THEN COALESCE(payload::json -> 'data' ->> 'region', '') ELSE '' END;
CREATE INDEX federated_registrations_code ON federated_registrations (object_kind, code);
CREATE INDEX federated_registrations_region ON federated_registrations (object_kind, region);
