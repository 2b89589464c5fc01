-- Name and keyword searches behave alike on both backends: ASCII letters match whatever
-- their case, every other character matches itself. The node folds the search text and
-- compares it with fold_ascii(column); SQLite has the same function, registered by the node
-- on each connection.
CREATE FUNCTION fold_ascii(text) RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT translate($1, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') $$;

-- Sorting and code prefixes compare bytes, as SQLite does, whatever collation the database
-- was created with (zh_CN.UTF-8 would otherwise order names differently on the two).
ALTER TABLE entities ALTER COLUMN code TYPE TEXT COLLATE "C";
ALTER TABLE entities ALTER COLUMN name TYPE TEXT COLLATE "C";
ALTER TABLE sites ALTER COLUMN name TYPE TEXT COLLATE "C";
ALTER TABLE products ALTER COLUMN code TYPE TEXT COLLATE "C";
ALTER TABLE products ALTER COLUMN name TYPE TEXT COLLATE "C";
ALTER TABLE products ALTER COLUMN brand TYPE TEXT COLLATE "C";

-- Substring searches of names and brands are served by trigram indexes where pg_trgm is
-- installed (it ships with PostgreSQL; a server without it still answers, reading every
-- row). Varieties are searched among a site's merchants only, so they get none: each
-- trigram index costs every insert.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available: name searches read every row';
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX entities_name_folded ON entities USING gin (fold_ascii(name) gin_trgm_ops);
        CREATE INDEX sites_name_folded ON sites USING gin (fold_ascii(name) gin_trgm_ops);
        CREATE INDEX products_name_folded ON products USING gin (fold_ascii(name) gin_trgm_ops);
        CREATE INDEX products_brand_folded ON products USING gin (fold_ascii(brand) gin_trgm_ops);
    END IF;
END $$;
