DROP TABLE label_override_versions;
DROP TABLE label_overrides;
