DROP INDEX cut_records_by_entity;
ALTER TABLE cut_records DROP COLUMN entity_code, DROP COLUMN form;
