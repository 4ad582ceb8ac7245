-- Pre-aggregated counts behind the dashboards (issue 14: p95 under 200 ms
-- at national scope over 1,000,000 victims). What they count, and the
-- triggers that write them, are generated from the form specs at start-up
-- (crates/persistence/src/rollup.rs); this migration creates the tables
-- and the compactor, whose shape does not depend on the specs.
--
-- Writers never update a shared row: every change of a projection row
-- appends one row to figure_deltas (+1 or -1 for each dimension value the
-- row counts under, as parallel arrays). figure_compact() folds committed
-- deltas into figure_totals and deletes them in one transaction, so a
-- reader's snapshot sees every change exactly once: in the totals or
-- still pending. Readers add the two.
CREATE TABLE figure_totals (
    rollup            text NOT NULL,
    -- 0: by every key column; 1: the whole country (scope, entity,
    -- institution and municipality NULL), what a national reader without
    -- those filters reads: a few thousand rows instead of every entity's.
    level             smallint NOT NULL,
    dim               text NOT NULL,
    -- Who may count the cell: the entity and institution shared by every
    -- record behind it (NULL when they differ: only the nation counts it).
    scope_entity      text,
    scope_institution uuid,
    -- What the filters and groupings read: the counted record's entity,
    -- institution, municipality and month of its reference date.
    entity_code       text,
    institution_id    uuid,
    month             date,
    municipality_code text,
    value             text,
    n                 bigint NOT NULL,
    -- PostgreSQL 15: NULL (not recorded) is a value of its own here.
    CONSTRAINT figure_totals_key UNIQUE NULLS NOT DISTINCT
        (rollup, level, dim, scope_entity, scope_institution, entity_code, institution_id, month, municipality_code, value)
);

CREATE TABLE figure_deltas (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rollup            text NOT NULL,
    scope_entity      text,
    scope_institution uuid,
    entity_code       text NOT NULL,
    institution_id    uuid NOT NULL,
    month             date,
    municipality_code text,
    dims              text[] NOT NULL,
    vals              text[] NOT NULL,
    n                 integer NOT NULL,
    CHECK (cardinality(dims) = cardinality(vals))
);

-- What the rollups of a tree (an investigation with its criminal cases,
-- defendants and sentences) count now, per tree: a change anywhere in the
-- tree replaces these rows and appends their difference as deltas.
CREATE TABLE figure_sources (
    rollup            text NOT NULL,
    anchor            uuid NOT NULL,
    scope_entity      text,
    scope_institution uuid,
    entity_code       text NOT NULL,
    institution_id    uuid NOT NULL,
    month             date,
    municipality_code text,
    dims              text[] NOT NULL,
    vals              text[] NOT NULL
);
CREATE INDEX figure_sources_anchor ON figure_sources (rollup, anchor);

-- The projections' DDL last built (generated from the form specs): a
-- start-up whose specs generate another text rebuilds them.
CREATE TABLE projection_state (
    id       boolean PRIMARY KEY DEFAULT true CHECK (id),
    ddl      text NOT NULL,
    built_at timestamptz NOT NULL DEFAULT now()
);

-- Folds up to `batch` committed deltas into the totals; answers how many
-- it folded. Every server runs it every few seconds; an advisory lock
-- lets one fold at a time (without `wait`, a server that finds another
-- folding skips its turn and answers 0).
CREATE FUNCTION figure_compact(batch integer, wait boolean) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    folded integer;
BEGIN
    IF wait THEN
        PERFORM pg_advisory_xact_lock(5372010401);
    ELSIF NOT pg_try_advisory_xact_lock(5372010401) THEN
        RETURN 0;
    END IF;
    WITH gone AS (
        DELETE FROM figure_deltas
        WHERE id IN (SELECT id FROM figure_deltas ORDER BY id LIMIT batch)
        RETURNING *
    ), summed AS (
        SELECT g.rollup, u.dim, g.scope_entity, g.scope_institution, g.entity_code,
               g.institution_id, g.month, g.municipality_code, u.value, sum(g.n)::bigint AS n
        FROM gone g CROSS JOIN LATERAL unnest(g.dims, g.vals) AS u(dim, value)
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
    ), national AS (
        SELECT rollup, dim, month, value, sum(n)::bigint AS n FROM summed GROUP BY 1, 2, 3, 4
    ), stored AS (
        INSERT INTO figure_totals AS t (rollup, level, dim, scope_entity, scope_institution, entity_code,
                                        institution_id, month, municipality_code, value, n)
        SELECT rollup, 0, dim, scope_entity, scope_institution, entity_code, institution_id, month,
               municipality_code, value, n FROM summed WHERE n <> 0
        UNION ALL
        SELECT rollup, 1, dim, NULL, NULL, NULL, NULL, month, NULL, value, n FROM national WHERE n <> 0
        ON CONFLICT ON CONSTRAINT figure_totals_key DO UPDATE SET n = t.n + EXCLUDED.n
        RETURNING 1
    )
    SELECT count(*) INTO folded FROM gone;
    RETURN folded;
END
$$;

REVOKE ALL ON figure_totals, figure_deltas, figure_sources, projection_state FROM PUBLIC;
GRANT SELECT ON figure_totals, figure_deltas TO sintra_app;
REVOKE ALL ON FUNCTION figure_compact(integer, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION figure_compact(integer, boolean) TO sintra_app;
