DROP TABLE catalog_items;
DROP TABLE catalogs;
