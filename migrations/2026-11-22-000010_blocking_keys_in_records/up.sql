-- A person's blocking keys live in the person's own row. In a table of
-- their own every key was a btree entry plus a foreign-key check and a
-- second index (five per person): an import of 100,000 people spent more
-- time writing keys than records. A GIN index stores each key once with a
-- compressed list of the rows that share it, and the keys are written with
-- the record, in the same statement, so they can never disagree with it.
ALTER TABLE records ADD COLUMN blocking_keys text[];

UPDATE records r
SET blocking_keys = k.keys
FROM (SELECT person_id, array_agg(key ORDER BY key) AS keys
      FROM person_keys GROUP BY person_id) k
WHERE k.person_id = r.id;

CREATE INDEX records_blocking_keys ON records USING gin (blocking_keys)
    WHERE blocking_keys IS NOT NULL;

DROP TABLE person_keys;
