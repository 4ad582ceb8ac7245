-- The read-only role BI tools (Power BI, Metabase, Superset) connect as.
-- It may read the typed projections of the record forms (schema
-- `projections`, views generated from the form specs after every migration
-- run: non-personal fields only) and nothing else: no table of `public`,
-- so never `records.data` nor a personal field. An administrator gives it a
-- login with `CREATE ROLE bi_login LOGIN PASSWORD '…' IN ROLE sintra_bi`.
-- Roles are cluster-wide; a concurrent creation is ignored.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sintra_bi') THEN
        CREATE ROLE sintra_bi NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

CREATE SCHEMA IF NOT EXISTS projections;
REVOKE ALL ON SCHEMA projections FROM PUBLIC;
GRANT USAGE ON SCHEMA projections TO sintra_app, sintra_bi;
