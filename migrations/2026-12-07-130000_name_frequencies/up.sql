-- How common each name is among the stored people, so a duplicate check
-- weighs an agreement on HERNÁNDEZ or MARÍA GUADALUPE less than one on a
-- rare surname (term-frequency adjustment, issue 18).
--
-- A person's name terms (phonetic keys of the given names, `G:…`, and of
-- each surname, `S:…`, worked out in Rust as the blocking keys are) live in
-- its row, written in the same statement as the record.
ALTER TABLE records ADD COLUMN name_terms text[];

-- People per term; the term '*' counts every person. Read by each check
-- for the few terms it compares (primary-key lookups).
CREATE TABLE name_term_counts (
    term   text PRIMARY KEY CHECK (length(term) BETWEEN 1 AND 400),
    people bigint NOT NULL
);

-- Changes not yet folded into the counts. Writers only append here, so no
-- two transactions ever wait on the row of a common name (an import of
-- 100,000 people holding the row of 'S:ERNANDES' until it commits would
-- stall every other registration); `fold_name_terms` moves them into the
-- counts every few seconds.
CREATE TABLE name_term_deltas (
    id    bigserial PRIMARY KEY,
    term  text NOT NULL,
    delta bigint NOT NULL
);

-- One statement-level trigger per event, with the statement's rows as
-- transition tables: an import's chunk of 10,000 people appends one row per
-- distinct term, not one per person.
CREATE FUNCTION name_terms_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO name_term_deltas (term, delta)
    SELECT t, count(*) FROM new_rows, unnest(name_terms || '{*}'::text[]) AS t
    WHERE name_terms IS NOT NULL
    GROUP BY t;
    RETURN NULL;
END $$;

CREATE FUNCTION name_terms_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO name_term_deltas (term, delta)
    SELECT t, -count(*) FROM old_rows, unnest(name_terms || '{*}'::text[]) AS t
    WHERE name_terms IS NOT NULL
    GROUP BY t;
    RETURN NULL;
END $$;

CREATE FUNCTION name_terms_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO name_term_deltas (term, delta)
    SELECT t, sum(d) FROM (
        SELECT t, -1 AS d FROM old_rows, unnest(name_terms || '{*}'::text[]) AS t
        WHERE name_terms IS NOT NULL
        UNION ALL
        SELECT t, 1 AS d FROM new_rows, unnest(name_terms || '{*}'::text[]) AS t
        WHERE name_terms IS NOT NULL
    ) x
    GROUP BY t
    HAVING sum(d) <> 0;
    RETURN NULL;
END $$;

CREATE TRIGGER records_name_terms_added AFTER INSERT ON records
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION name_terms_added();
CREATE TRIGGER records_name_terms_removed AFTER DELETE ON records
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION name_terms_removed();
CREATE TRIGGER records_name_terms_changed AFTER UPDATE ON records
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION name_terms_changed();

-- Folds the pending changes into the counts; returns how many it folded.
-- One fold at a time (the advisory lock); deltas appended meanwhile wait
-- for the next one.
CREATE FUNCTION fold_name_terms() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('fold_name_terms')) THEN
        RETURN 0;
    END IF;
    -- A data-modifying CTE runs once whether or not it is read.
    WITH gone AS (
        DELETE FROM name_term_deltas RETURNING term, delta
    ), summed AS (
        SELECT term, sum(delta) AS delta, count(*) AS n FROM gone GROUP BY term
    ), upserted AS (
        INSERT INTO name_term_counts AS c (term, people)
        SELECT term, delta FROM summed
        ON CONFLICT (term) DO UPDATE SET people = c.people + excluded.people
    )
    SELECT coalesce(sum(n), 0) INTO folded FROM summed;
    DELETE FROM name_term_counts WHERE people <= 0;
    RETURN folded;
END $$;
