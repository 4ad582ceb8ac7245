-- Quarterly cuts (issue 15): what a quarter's figures were when the
-- national administration took its cut. A cut never changes: the
-- application's role may only insert. `figures` is a JSON document
-- ({"record_counts": [...]}) meant to grow (the dashboards' figures join it
-- as further keys); `cut_records` holds the (id, version) of every record
-- counted, so the cut can be recomputed and proved; `digest` covers both
-- and is appended to the audit chain.
CREATE TABLE cuts (
    id            uuid PRIMARY KEY,
    year          integer NOT NULL CHECK (year BETWEEN 1900 AND 2200),
    quarter       smallint NOT NULL CHECK (quarter BETWEEN 1 AND 4),
    taken_at      timestamptz NOT NULL DEFAULT now(),
    taken_by      uuid NOT NULL REFERENCES users(id),
    figures       jsonb NOT NULL CHECK (jsonb_typeof(figures) = 'object'),
    record_count  bigint NOT NULL,
    records_digest text NOT NULL,
    digest        text NOT NULL
);
CREATE INDEX cuts_by_quarter ON cuts (year, quarter, taken_at);

CREATE TABLE cut_records (
    -- Deferred: the records are stored before the cut row that sums them up.
    cut_id    uuid NOT NULL REFERENCES cuts(id) DEFERRABLE INITIALLY DEFERRED,
    record_id uuid NOT NULL,
    version   integer NOT NULL,
    PRIMARY KEY (cut_id, record_id)
);
REVOKE UPDATE, DELETE, TRUNCATE ON cuts, cut_records FROM sintra_app;
