DROP SCHEMA IF EXISTS projections CASCADE;
-- The role is cluster-wide and may serve other databases: it stays.
