-- A device may belong to a tenant itself rather than to one of its entities: the scanners and
-- terminals a government department of the node runs have no market entity behind them.
CREATE TABLE devices_new (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    entity_id TEXT REFERENCES entities(id),
    site_id TEXT REFERENCES sites(id),
    device_type TEXT NOT NULL,
    model TEXT NOT NULL,
    mac TEXT NOT NULL UNIQUE,
    serial_number TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO devices_new (id, tenant_id, entity_id, site_id, device_type, model, mac, serial_number, created_at, updated_at)
    SELECT id, tenant_id, entity_id, site_id, device_type, model, mac, serial_number, created_at, updated_at FROM devices;
DROP TABLE devices;
ALTER TABLE devices_new RENAME TO devices;
CREATE INDEX devices_entity ON devices(entity_id);
CREATE INDEX devices_tenant ON devices(tenant_id);
CREATE INDEX devices_site ON devices(site_id) WHERE site_id IS NOT NULL;
CREATE INDEX devices_created ON devices(created_at);
