-- Excel imports: each upload's report, and the operator's workbook
-- annotated with its errors (it holds the institution's own data and is
-- served only to that institution). A committed file (by SHA-256) is
-- imported once per institution and form.
CREATE TABLE imports (
    id             uuid PRIMARY KEY,
    institution_id uuid NOT NULL REFERENCES institutions(id),
    form           text NOT NULL,
    file_sha256    text NOT NULL,
    status         text NOT NULL CHECK (status IN ('dry_run', 'rejected', 'committed')),
    report         jsonb NOT NULL,
    annotated      bytea,
    created_by     uuid NOT NULL REFERENCES users(id),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX imports_once ON imports (institution_id, form, file_sha256)
    WHERE status = 'committed';
