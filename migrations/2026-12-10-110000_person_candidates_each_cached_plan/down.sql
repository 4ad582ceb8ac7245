-- Back to the SQL function of migration 2026-12-08-130000_person_candidates_each.
CREATE OR REPLACE FUNCTION person_candidates_each(people text[], max_each integer)
RETURNS TABLE (person integer, id uuid)
LANGUAGE sql STABLE
SET enable_seqscan = off
SET enable_indexscan = off
AS $$
    SELECT p.n::integer, c.id
    FROM unnest(people) WITH ORDINALITY AS p(keys, n)
    CROSS JOIN LATERAL (
        SELECT r.id FROM records r
        WHERE r.blocking_keys IS NOT NULL
          AND r.blocking_keys && string_to_array(p.keys, chr(31))
        LIMIT max_each
    ) c
$$;
