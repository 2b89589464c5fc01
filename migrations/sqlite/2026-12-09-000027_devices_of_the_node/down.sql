DELETE FROM devices WHERE entity_id IS NULL;
DROP INDEX devices_created;
CREATE TABLE devices_old (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    entity_id TEXT NOT NULL REFERENCES entities(id),
    site_id TEXT REFERENCES sites(id),
    device_type TEXT NOT NULL,
    model TEXT NOT NULL,
    mac TEXT NOT NULL UNIQUE,
    serial_number TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO devices_old SELECT id, tenant_id, entity_id, site_id, device_type, model, mac, serial_number, created_at, updated_at FROM devices;
DROP TABLE devices;
ALTER TABLE devices_old RENAME TO devices;
CREATE INDEX devices_entity ON devices(entity_id);
CREATE INDEX devices_tenant ON devices(tenant_id);
CREATE INDEX devices_site ON devices(site_id) WHERE site_id IS NOT NULL;
