DROP INDEX devices_site;
DROP TABLE product_versions;
DROP TABLE products;
DROP INDEX entities_site;
DROP INDEX entities_tenant;
DROP INDEX entities_search;
ALTER TABLE entities DROP COLUMN category_families;
ALTER TABLE entities ADD COLUMN region_province TEXT NOT NULL DEFAULT '';
ALTER TABLE entities ADD COLUMN region_city TEXT NOT NULL DEFAULT '';
UPDATE entities SET region_province = substr(region, 1, 2), region_city = substr(region, 1, 4);
CREATE TABLE entity_categories (
    category_code TEXT NOT NULL REFERENCES product_categories(code),
    entity_id TEXT NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    PRIMARY KEY (category_code, entity_id)
);
INSERT INTO entity_categories (category_code, entity_id)
    SELECT DISTINCT j.value, e.id FROM entities e, json_array_elements_text(e.categories::json) j(value);
CREATE INDEX entity_categories_entity ON entity_categories(entity_id);
CREATE INDEX entities_site ON entities(site_id);
CREATE INDEX entities_tenant ON entities(tenant_id);
CREATE INDEX entities_status ON entities(status, region);
CREATE INDEX entities_region ON entities(region, filed_at);
CREATE INDEX entities_city ON entities(region_city, filed_at);
CREATE INDEX entities_province ON entities(region_province, filed_at);
