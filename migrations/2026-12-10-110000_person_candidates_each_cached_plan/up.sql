-- `person_candidates_each` in PL/pgSQL, so that its plan is cached (issue 17).
--
-- A SQL function with `SET` options is never inlined, and PostgreSQL 15
-- parses, analyzes and plans its body again on every call: about a third
-- of a millisecond of a registration's duplicate check, and in a profile of
-- concurrent `POST /victims` about 5% of the database's CPU. A PL/pgSQL
-- body keeps its plan for the session. Same answer, same settings: only a
-- bitmap scan of the blocking keys' GIN index may serve each lookup (see
-- migration 2026-12-08-130000_person_candidates_each).
CREATE OR REPLACE FUNCTION person_candidates_each(people text[], max_each integer)
RETURNS TABLE (person integer, id uuid)
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
SET enable_indexscan = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT p.n::integer, c.id
    FROM unnest(people) WITH ORDINALITY AS p(keys, n)
    CROSS JOIN LATERAL (
        SELECT r.id FROM records r
        WHERE r.blocking_keys IS NOT NULL
          AND r.blocking_keys && string_to_array(p.keys, chr(31))
        LIMIT max_each
    ) c;
END
$$;
