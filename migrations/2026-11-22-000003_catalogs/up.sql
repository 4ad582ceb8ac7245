-- Catalogs: code + Spanish/English label + active flag + order, some of them
-- hierarchical (municipality -> entity). Filled by the next migration
-- (generated from data/catalogs/); afterwards the national administrator
-- maintains them through the API. An item in use is deactivated, never deleted.
CREATE TABLE catalogs (
    code           text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,49}$'),
    label_es       text NOT NULL,
    label_en       text NOT NULL,
    parent_catalog text REFERENCES catalogs(code),
    source         text NOT NULL DEFAULT ''
);

CREATE TABLE catalog_items (
    catalog     text NOT NULL REFERENCES catalogs(code),
    code        text NOT NULL CHECK (code ~ '^[A-Z0-9][A-Z0-9_]{0,59}$'),
    label_es    text NOT NULL CHECK (length(label_es) BETWEEN 1 AND 300),
    label_en    text NOT NULL CHECK (length(label_en) BETWEEN 1 AND 300),
    parent_code text,
    sort_order  integer NOT NULL,
    active      boolean NOT NULL DEFAULT true,
    extra       jsonb NOT NULL DEFAULT '{}'::jsonb,
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (catalog, code)
);

-- Listing a catalog in its order, and the children of one parent item
-- (e.g. the municipios of one entidad).
CREATE INDEX catalog_items_order ON catalog_items (catalog, sort_order, code);
CREATE INDEX catalog_items_parent ON catalog_items (catalog, parent_code) WHERE parent_code IS NOT NULL;
CREATE INDEX catalogs_parent ON catalogs (parent_catalog) WHERE parent_catalog IS NOT NULL;

COMMENT ON TABLE catalogs IS 'Catalog definitions (catálogos); code is the snake_case key used in form specs and the API.';
COMMENT ON COLUMN catalogs.parent_catalog IS 'Catalog whose item codes the parent_code of this catalog''s items names (municipality -> entity).';
COMMENT ON COLUMN catalogs.source IS 'Where the values come from (law, standard, institution).';
COMMENT ON TABLE catalog_items IS 'Catalog values. An item in use is deactivated (active = false), never deleted.';
COMMENT ON COLUMN catalog_items.parent_code IS 'Code of the parent item in the catalog''s parent_catalog, if any.';
COMMENT ON COLUMN catalog_items.extra IS 'Per-catalog attributes as a JSON object (population, article, fraction, stage, ...).';
COMMENT ON COLUMN catalog_items.version IS 'Optimistic-concurrency version (ETag / If-Match).';
