-- Excel imports as jobs (issue 19): an upload is accepted at once (202) and
-- checked, then committed, by a worker of any API instance, which claims it
-- with FOR UPDATE SKIP LOCKED and proves it is alive with `heartbeat_at`. A
-- job whose heartbeat stopped (its server restarted) is taken over by
-- another worker, or failed after `attempts` tries; its commit is one
-- transaction that also marks the job committed, so it is never half
-- written. The job carries who uploaded it (the caller the worker acts as)
-- and the workbook itself until the job ends (the bytes are dropped then;
-- the report stays, and `imports` keeps the annotated workbook).
CREATE TABLE import_jobs (
    id             uuid PRIMARY KEY,
    form           text NOT NULL,
    institution_id uuid NOT NULL REFERENCES institutions(id),
    entity_code    text NOT NULL,
    created_by     uuid NOT NULL REFERENCES users(id),
    actor_username text NOT NULL,
    actor_role     text NOT NULL,
    token_id       uuid NOT NULL,
    request_id     text NOT NULL,
    ip             text,
    lang           text NOT NULL CHECK (lang IN ('es', 'en')),
    dry_run        boolean NOT NULL,
    status         text NOT NULL CHECK (status IN ('queued', 'checking', 'checked', 'committing',
                                                   'committed', 'rejected', 'failed', 'cancelled')),
    file_sha256    text NOT NULL,
    file_bytes     bigint NOT NULL,
    workbook       bytea,
    rows_total     bigint,
    rows_read      bigint NOT NULL DEFAULT 0,
    rows_checked   bigint NOT NULL DEFAULT 0,
    rows_written   bigint NOT NULL DEFAULT 0,
    report         jsonb,
    -- Why a job was refused or failed: {"code", "status", "es", "en"}.
    problem        jsonb,
    worker_id      text,
    attempts       integer NOT NULL DEFAULT 0,
    heartbeat_at   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    started_at     timestamptz,
    finished_at    timestamptz
);
CREATE INDEX import_jobs_by_institution ON import_jobs (institution_id, created_at DESC, id DESC);
-- What workers look for, and what the limits count: the jobs not yet ended.
CREATE INDEX import_jobs_active ON import_jobs (created_at)
    WHERE status IN ('queued', 'checking', 'committing');
