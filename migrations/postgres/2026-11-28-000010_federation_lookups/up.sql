-- A parent looks registrations from below up by object id, a batch at a time.
CREATE INDEX federated_registrations_object ON federated_registrations(object_id);
