CREATE TABLE person_keys (
    key       text NOT NULL,
    person_id uuid NOT NULL REFERENCES records(id),
    PRIMARY KEY (key, person_id)
);
CREATE INDEX person_keys_person ON person_keys (person_id);
INSERT INTO person_keys (key, person_id)
SELECT DISTINCT unnest(blocking_keys), id FROM records WHERE blocking_keys IS NOT NULL;
DROP INDEX records_blocking_keys;
ALTER TABLE records DROP COLUMN blocking_keys;
