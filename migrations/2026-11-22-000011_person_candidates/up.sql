-- The people sharing a blocking key with these, by id, at most `max_rows`.
-- Keys are nearly unique, so the array statistics tell the planner little:
-- it guesses that 1% of the table shares a key and prefers reading the
-- whole table (400 ms at 1,000,000 people against under 1 ms through the
-- GIN index). Inside this function only a bitmap scan, i.e. the GIN index
-- of migration 000010, may serve the query.
CREATE FUNCTION person_candidate_ids(keys text[], max_rows integer) RETURNS uuid[]
LANGUAGE sql STABLE
SET enable_seqscan = off
SET enable_indexscan = off
AS $$
    SELECT coalesce((array_agg(id))[1:max_rows], '{}')
    FROM records
    WHERE blocking_keys IS NOT NULL AND blocking_keys && keys
$$;

-- Without a pending list: with one, every check also reads up to 4 MB of
-- keys not yet merged into the index (6 ms a check at 1,000,000 people).
ALTER INDEX records_blocking_keys SET (fastupdate = off);
SELECT gin_clean_pending_list('records_blocking_keys'::regclass);
