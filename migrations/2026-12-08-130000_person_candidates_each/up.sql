-- For each person of a batch (its probe keys joined by chr(31)), the ids
-- of the stored people sharing a key with it, at most `max_each` each: one
-- small GIN lookup per person. One `&&` over the union of a batch's keys
-- (what `person_candidate_ids` answers) costs GIN's consistent check of
-- every query key for every item it meets: for 500 people (11,000 keys)
-- 0.5–0.9 s on 30,000 people, against 0.06 s this way, and an import of
-- 100,000 victims runs 200 such batches. Inside a function so that only a
-- bitmap scan of the GIN index of migration 000010 may serve each lookup
-- (left to itself the planner may read the whole table, see 000011).
CREATE FUNCTION person_candidates_each(people text[], max_each integer)
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
