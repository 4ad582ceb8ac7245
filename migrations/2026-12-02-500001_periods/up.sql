-- Quarterly periods per entity (DESIGN.md §7, issue 15): open → submitted
-- → closed → reopened → closed again. A quarter without a row is open.
-- Writers of records insert the row of their quarter if missing and read
-- it FOR SHARE in their transaction; a close updates it, so a write and a
-- close of the same quarter never interleave (sintra_domain::periods).
CREATE TABLE periods (
    entity_code text NOT NULL REFERENCES entities(code),
    year        integer NOT NULL CHECK (year BETWEEN 1900 AND 2200),
    quarter     smallint NOT NULL CHECK (quarter BETWEEN 1 AND 4),
    status      text NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'submitted', 'closed', 'reopened')),
    changed_at  timestamptz,
    changed_by  uuid REFERENCES users(id),
    -- The last reopening's reason.
    reason      text CHECK (length(reason) BETWEEN 1 AND 1000),
    PRIMARY KEY (entity_code, year, quarter)
);
CREATE INDEX periods_by_quarter ON periods (year, quarter, entity_code);

-- Every transition, as it happened: append-only (the audit log holds the
-- same, hash-chained).
CREATE TABLE period_transitions (
    id          bigserial PRIMARY KEY,
    entity_code text NOT NULL,
    year        integer NOT NULL,
    quarter     smallint NOT NULL,
    action      text NOT NULL CHECK (action IN ('submit', 'close', 'reopen')),
    from_status text NOT NULL,
    to_status   text NOT NULL,
    actor_id    uuid NOT NULL REFERENCES users(id),
    occurred_at timestamptz NOT NULL DEFAULT now(),
    reason      text CHECK (length(reason) BETWEEN 1 AND 1000),
    FOREIGN KEY (entity_code, year, quarter) REFERENCES periods (entity_code, year, quarter)
);
CREATE INDEX period_transitions_by_period
    ON period_transitions (entity_code, year, quarter, id);
REVOKE UPDATE, DELETE, TRUNCATE ON period_transitions FROM sintra_app;
