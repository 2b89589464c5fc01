DROP INDEX federated_registrations_region;
DROP INDEX federated_registrations_code;
ALTER TABLE federated_registrations DROP COLUMN region;
ALTER TABLE federated_registrations DROP COLUMN name;
ALTER TABLE federated_registrations DROP COLUMN code;
