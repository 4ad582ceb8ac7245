ALTER TABLE import_jobs DROP COLUMN retry_at;
