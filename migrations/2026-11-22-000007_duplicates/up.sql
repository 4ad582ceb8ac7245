-- Duplicate warnings for people (DESIGN.md §5). Blocking keys are stored
-- and indexed so a check reads a few small blocks, never the whole table.
CREATE TABLE person_keys (
    key       text NOT NULL,
    person_id uuid NOT NULL REFERENCES records(id),
    PRIMARY KEY (key, person_id)
);
CREATE INDEX person_keys_person ON person_keys (person_id);

-- Pairs raised between two people (a < b), and what was decided about them.
CREATE TABLE duplicate_pairs (
    id          uuid PRIMARY KEY,
    person_a    uuid NOT NULL REFERENCES records(id),
    person_b    uuid NOT NULL REFERENCES records(id),
    level       text NOT NULL CHECK (level IN ('exact', 'probable', 'possible')),
    score       double precision NOT NULL,
    status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'dismissed', 'confirmed')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    decided_by  uuid REFERENCES users(id),
    decided_at  timestamptz,
    CHECK (person_a < person_b),
    UNIQUE (person_a, person_b)
);
CREATE INDEX duplicate_pairs_open ON duplicate_pairs (status, id);
CREATE INDEX duplicate_pairs_b ON duplicate_pairs (person_b);
