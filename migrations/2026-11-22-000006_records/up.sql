-- Records of every form (commissions, sessions, agreements, victims, …).
-- One table, one shape: the form spec in crates/domain describes `data`
-- and is the single place fields are defined; the columns here are what
-- every record of every module carries (DESIGN.md §2) and what scope and
-- paging filter on.
CREATE TABLE records (
    id             uuid PRIMARY KEY,
    form           text NOT NULL,
    entity_code    text NOT NULL REFERENCES entities(code),
    institution_id uuid NOT NULL REFERENCES institutions(id),
    parent_id      uuid REFERENCES records(id),
    external_folio text CHECK (length(external_folio) BETWEEN 1 AND 100),
    data           jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    version        integer NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    created_by     uuid REFERENCES users(id),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    updated_by     uuid REFERENCES users(id)
);
-- The sender's folio is unique per institution and form (upsert key).
CREATE UNIQUE INDEX records_folio ON records (institution_id, form, external_folio)
    WHERE external_folio IS NOT NULL;
CREATE INDEX records_form_entity ON records (form, entity_code, id);
CREATE INDEX records_form_institution ON records (form, institution_id, id);
CREATE INDEX records_parent ON records (parent_id, id) WHERE parent_id IS NOT NULL;
CREATE INDEX records_data ON records USING gin (data jsonb_path_ops);

-- Idempotency-Key of POSTs from state systems: the same key and body
-- answer the stored response; the same key with another body is a conflict.
CREATE TABLE idempotency_keys (
    institution_id uuid NOT NULL REFERENCES institutions(id),
    key            text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    request_hash   text NOT NULL,
    status         integer NOT NULL,
    response       jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (institution_id, key)
);
