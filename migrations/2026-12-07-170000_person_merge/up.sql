-- People behind victim records (issue 18, merge of confirmed duplicates).
--
-- A person is a connected component of the records joined by confirmed
-- duplicate pairs: a record alone is a person of its own; a~c and b~c
-- confirmed make a, b and c one person. Its head is its first record (the
-- smallest id: ids are time-ordered UUIDv7, so the first registered); the
-- head is the one record of the person that figures count. Nothing is
-- deleted: every record stays with who registered it.
--
-- The person identifier the API shows is derived from the head, never the
-- head's id itself: a reader who may see only some of the person's records
-- must not learn the id of a record outside its scope.
CREATE FUNCTION person_uuid(head uuid) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT md5('sintra.person:' || head::text)::uuid
$$;

-- Only records of persons of two or more records have a row (a record
-- without one is its own head), so registering a person costs nothing
-- here and a database of millions of people needs no backfill.
CREATE TABLE person_links (
    record_id uuid PRIMARY KEY REFERENCES records(id),
    head      uuid NOT NULL REFERENCES records(id)
);
CREATE INDEX person_links_head ON person_links (head);
COMMENT ON TABLE person_links IS
    'The head (first record) of the person of each record that shares its person with others; kept by person_regroup() from the confirmed duplicate pairs.';

-- Every change of people, kept so it can be read and undone exactly: which
-- pair, the persons before and after, the records that moved.
CREATE TABLE person_merges (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pair_id        uuid NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('merge', 'split')),
    persons_before uuid[] NOT NULL,
    persons_after  uuid[] NOT NULL,
    -- [{record_id, from, to}]: person ids as the API shows them.
    moved          jsonb NOT NULL,
    decided_by     uuid REFERENCES users(id),
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX person_merges_pair ON person_merges (pair_id, id);

-- The persons (heads) of the components of the confirmed pairs that
-- contain the seeds: every record reached, with its head.
CREATE FUNCTION person_components(seeds uuid[]) RETURNS TABLE (record_id uuid, head uuid)
LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
    WITH RECURSIVE reach(seed, node) AS (
        SELECT s, s FROM unnest(seeds) AS s
      UNION
        SELECT r.seed, CASE WHEN dp.person_a = r.node THEN dp.person_b ELSE dp.person_a END
        FROM reach r
        JOIN duplicate_pairs dp
          ON dp.status = 'confirmed' AND (dp.person_a = r.node OR dp.person_b = r.node)
    ), heads AS (
        -- uuid has no min() before PostgreSQL 16.
        SELECT seed, (array_agg(node ORDER BY node))[1] AS head FROM reach GROUP BY seed
    )
    SELECT DISTINCT r.node, h.head FROM reach r JOIN heads h USING (seed)
$$;

-- Recomputes the persons of the records `touched` (and of everyone who
-- shared a person with them) from the confirmed pairs as they stand, and
-- journals what moved. A person is a function of the confirmed pairs, so
-- undoing a pair restores exactly the persons as they were before it,
-- even when later merges built on it (they are recomputed too).
CREATE FUNCTION person_regroup(touched uuid[], pair uuid, kind text, by_user uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
DECLARE
    affected uuid[];
    ids uuid[];
    heads uuid[];
    sizes bigint[];
    moved jsonb;
    before_p uuid[];
    after_p uuid[];
BEGIN
    -- One regrouping at a time: each statement below runs after the lock
    -- with a fresh snapshot, so two confirmations that touch one person
    -- (a~c and b~c at once) see each other and end as one person.
    PERFORM pg_advisory_xact_lock(hashtext('sintra.person_regroup')::bigint);
    affected := ARRAY(
        SELECT t FROM unnest(touched) AS t
        UNION
        SELECT pl.record_id FROM person_links pl
        WHERE pl.head IN (SELECT l.head FROM person_links l WHERE l.record_id = ANY(touched)));
    SELECT array_agg(c.record_id ORDER BY c.record_id), array_agg(c.head ORDER BY c.record_id),
           array_agg(c.k ORDER BY c.record_id)
      INTO ids, heads, sizes
      FROM (SELECT x.record_id, x.head, count(*) OVER (PARTITION BY x.head) AS k
            FROM person_components(affected) x) c;
    SELECT COALESCE(jsonb_agg(jsonb_build_object(
                'record_id', n.id, 'from', person_uuid(COALESCE(pl.head, n.id)), 'to', person_uuid(n.head))
                ORDER BY n.id) FILTER (WHERE COALESCE(pl.head, n.id) <> n.head), '[]'::jsonb),
           ARRAY(SELECT DISTINCT person_uuid(COALESCE(l.head, i)) FROM unnest(ids) AS i
                 LEFT JOIN person_links l ON l.record_id = i ORDER BY 1),
           ARRAY(SELECT DISTINCT person_uuid(h) FROM unnest(heads) AS h ORDER BY 1)
      INTO moved, before_p, after_p
      FROM unnest(ids, heads) AS n(id, head)
      LEFT JOIN person_links pl ON pl.record_id = n.id;
    -- Rows change only where the person did: no churn in the figures.
    DELETE FROM person_links pl
     WHERE pl.record_id = ANY(affected || ids)
       AND NOT EXISTS (SELECT 1 FROM unnest(ids, sizes) AS n(id, k) WHERE n.id = pl.record_id AND n.k > 1);
    INSERT INTO person_links (record_id, head)
    SELECT n.id, n.head FROM unnest(ids, heads, sizes) AS n(id, head, k) WHERE n.k > 1
    ON CONFLICT (record_id) DO UPDATE SET head = EXCLUDED.head
     WHERE person_links.head <> EXCLUDED.head;
    IF moved <> '[]'::jsonb THEN
        INSERT INTO person_merges (pair_id, kind, persons_before, persons_after, moved, decided_by)
        VALUES (pair, kind, before_p, after_p, moved, by_user);
    END IF;
END
$fn$;

-- Whatever writes a pair's status (the API, an import, SQL), the persons
-- follow: a pair confirmed merges, a pair no longer confirmed splits.
CREATE FUNCTION duplicate_pair_regroup() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status = 'confirmed' THEN
            PERFORM person_regroup(ARRAY[NEW.person_a, NEW.person_b], NEW.id, 'merge', NEW.decided_by);
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.status = 'confirmed' THEN
            PERFORM person_regroup(ARRAY[OLD.person_a, OLD.person_b], OLD.id, 'split', NULL);
        END IF;
    ELSIF (OLD.status = 'confirmed') <> (NEW.status = 'confirmed') THEN
        PERFORM person_regroup(ARRAY[OLD.person_a, OLD.person_b, NEW.person_a, NEW.person_b], NEW.id,
                               CASE WHEN NEW.status = 'confirmed' THEN 'merge' ELSE 'split' END,
                               NEW.decided_by);
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER duplicate_pairs_regroup AFTER INSERT OR UPDATE OR DELETE ON duplicate_pairs
    FOR EACH ROW EXECUTE FUNCTION duplicate_pair_regroup();

-- The persons of the pairs confirmed before this migration.
SELECT person_regroup(ARRAY(SELECT person_a FROM duplicate_pairs WHERE status = 'confirmed'
                            UNION SELECT person_b FROM duplicate_pairs WHERE status = 'confirmed'),
                      '00000000-0000-0000-0000-000000000000', 'merge', NULL)
WHERE EXISTS (SELECT 1 FROM duplicate_pairs WHERE status = 'confirmed');

-- The API reads people; only the functions above write them.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON person_links, person_merges FROM sintra_app;
GRANT SELECT ON person_links, person_merges TO sintra_app;
-- Called by the trigger alone (as the owner): the API cannot journal a
-- merge that did not happen.
REVOKE ALL ON FUNCTION person_regroup(uuid[], uuid, text, uuid), duplicate_pair_regroup()
    FROM PUBLIC, sintra_app;
