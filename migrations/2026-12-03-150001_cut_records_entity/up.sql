-- "Why did the figure change" (issue 15) compares a cut with a later cut or
-- with the present. A record that moved between entities, or whose form is
-- needed to explain it, must be placed where it was when the cut counted
-- it: the cut keeps its entity and form beside (id, version). Cuts taken
-- before this migration get their records' entity and form as they stand
-- now (the best knowledge there is); the digest covers (id, version) only,
-- so it does not change.
ALTER TABLE cut_records ADD COLUMN entity_code text, ADD COLUMN form text;
UPDATE cut_records c SET entity_code = r.entity_code, form = r.form
  FROM records r WHERE r.id = c.record_id;
UPDATE cut_records SET entity_code = '', form = '' WHERE entity_code IS NULL;
ALTER TABLE cut_records ALTER COLUMN entity_code SET NOT NULL,
                        ALTER COLUMN form SET NOT NULL;
CREATE INDEX cut_records_by_entity ON cut_records (cut_id, entity_code);
