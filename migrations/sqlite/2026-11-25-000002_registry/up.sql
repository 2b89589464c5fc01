-- Registry: the product catalogue, sites, responsible entities with review and versions,
-- pending changes and duplicate claims, per-tenant change policies, and the outbox that the
-- federation sends upward.
CREATE TABLE catalogue_versions (
    version BIGINT PRIMARY KEY NOT NULL,
    origin TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE product_categories (
    code TEXT PRIMARY KEY NOT NULL,
    parent_code TEXT REFERENCES product_categories(code),
    name TEXT NOT NULL,
    level INTEGER NOT NULL,
    origin TEXT NOT NULL,
    catalogue_version BIGINT NOT NULL,
    retired BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX product_categories_parent ON product_categories(parent_code);

CREATE TABLE sites (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    region TEXT NOT NULL,
    address TEXT NOT NULL,
    longitude DOUBLE PRECISION,
    latitude DOUBLE PRECISION,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX sites_region ON sites(region);
CREATE INDEX sites_name ON sites(name);

CREATE TABLE entities (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    region TEXT NOT NULL,
    region_province TEXT NOT NULL,
    region_city TEXT NOT NULL,
    address TEXT NOT NULL,
    longitude DOUBLE PRECISION,
    latitude DOUBLE PRECISION,
    contact_person TEXT NOT NULL,
    contact_phone TEXT NOT NULL,
    stages INTEGER NOT NULL,
    categories TEXT NOT NULL,
    site_id TEXT REFERENCES sites(id),
    merchant_code TEXT,
    merchant_type TEXT,
    varieties TEXT NOT NULL,
    filed_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT NOT NULL,
    version INTEGER NOT NULL,
    version_actor TEXT NOT NULL,
    version_note TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- Region filters are equality on the column of their level, so a page in filing order is read
-- straight from these indexes, however many entities the region holds.
CREATE INDEX entities_province ON entities(region_province, filed_at);
CREATE INDEX entities_city ON entities(region_city, filed_at);
CREATE INDEX entities_region ON entities(region, filed_at);
CREATE INDEX entities_filed ON entities(filed_at);
CREATE INDEX entities_status ON entities(status, region);
CREATE INDEX entities_tenant ON entities(tenant_id);
CREATE INDEX entities_site ON entities(site_id);

-- Keyed by category first: the category filter scans one range of this key.
CREATE TABLE entity_categories (
    category_code TEXT NOT NULL REFERENCES product_categories(code),
    entity_id TEXT NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    PRIMARY KEY (category_code, entity_id)
) WITHOUT ROWID;
CREATE INDEX entity_categories_entity ON entity_categories(entity_id);

-- Superseded versions; the version in force is the entities row itself.
CREATE TABLE entity_versions (
    entity_id TEXT NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    data TEXT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (entity_id, version)
) WITHOUT ROWID;

CREATE TABLE registry_changes (
    id TEXT PRIMARY KEY NOT NULL,
    object_kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    change_kind TEXT NOT NULL,
    data TEXT NOT NULL,
    fields TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    submitted_by TEXT NOT NULL,
    submitted_at TIMESTAMP NOT NULL,
    reviewed_by TEXT,
    reviewed_at TIMESTAMP
);
CREATE INDEX registry_changes_status ON registry_changes(status, object_kind);
CREATE INDEX registry_changes_object ON registry_changes(object_id);

CREATE TABLE tenant_field_policies (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    object_kind TEXT NOT NULL,
    field TEXT NOT NULL,
    mode TEXT NOT NULL,
    PRIMARY KEY (tenant_id, object_kind, field)
);

CREATE TABLE devices (
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
CREATE INDEX devices_entity ON devices(entity_id);
CREATE INDEX devices_tenant ON devices(tenant_id);

CREATE TABLE registry_outbox (
    seq BIGINT PRIMARY KEY NOT NULL,
    object_kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
