-- The audit log, partitioned by month (issue 17, growth).
--
-- Every read of personal data writes a row: at national use, hundreds of
-- millions of rows within a few years. One table that size makes every
-- index deeper, every VACUUM longer, and retention impossible without
-- DELETE (which the log refuses). Month partitions of `audit_events`
-- (range on `occurred_at`, UTC months) keep each table and its indexes the
-- size of one month, and let an old month leave the database whole
-- (DETACH, archive, with its chain rows and a signed checkpoint: README
-- "Audit log", retention).
--
-- What does not change: the sealer, the hash, the chain, the head. The
-- chain stays one unpartitioned table (position order is the proof's
-- order; its rows are small) and now records each event's `occurred_at`
-- (`event_at`), so verification can read only the partitions that hold the
-- rows it checks.
--
-- Promises kept on every partition:
--   * append-only: the row trigger is cloned by PostgreSQL to every
--     partition (present and future); the TRUNCATE trigger is statement
--     level and is not, so `audit_protect_partition` adds it to each one;
--     the API's role has no privilege at all on a partition (inserts go
--     through the parent, whose privileges are the only ones checked), and
--     the default privileges the project grants on new tables are revoked;
--   * no insert ever fails for want of a partition: a DEFAULT partition
--     takes any row outside the months created, and the sealer creates the
--     coming months ahead (`audit_ensure_partitions`, three months);
--   * the API chooses neither the id, the time nor the transaction of a row
--     (defaults it cannot override): it cannot backdate a row into an old
--     partition, reuse an id, or hide a row from the sealer.

DROP FUNCTION audit_seal(boolean);
DROP FUNCTION audit_append(jsonb);
DROP FUNCTION audit_event_hash(text, audit_events);

ALTER TABLE audit_events RENAME TO audit_events_unpartitioned;
ALTER SEQUENCE audit_events_id_seq OWNED BY NONE;

CREATE TABLE audit_events (
    id             bigint NOT NULL DEFAULT nextval('audit_events_id_seq'),
    occurred_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind           text NOT NULL CHECK (kind IN ('modification', 'access')),
    actor_id       uuid,
    actor_username text,
    institution_id uuid,
    entity_code    text,
    request_id     text,
    ip             text,
    action         text NOT NULL,
    resource_type  text NOT NULL,
    resource_id    text,
    changes        jsonb,
    details        jsonb,
    outcome        text NOT NULL,
    txid           xid8 NOT NULL DEFAULT pg_current_xact_id()
) PARTITION BY RANGE (occurred_at);
ALTER SEQUENCE audit_events_id_seq OWNED BY audit_events.id;

-- Refuses changes to the log, even to its owner (the row trigger is cloned
-- to every partition by PostgreSQL).
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();

-- What every partition needs besides what PostgreSQL clones from the parent:
-- its own TRUNCATE trigger, and no privilege for anyone but its owner.
CREATE FUNCTION audit_protect_partition(part regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
BEGIN
    EXECUTE format('REVOKE ALL ON %s FROM PUBLIC, sintra_app', part);
    EXECUTE format('CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change()', part);
END
$$;

CREATE TABLE audit_events_default PARTITION OF audit_events DEFAULT;
SELECT audit_protect_partition('audit_events_default');

-- Creates the partition of the UTC month that holds `month`, unless it
-- exists. It is created apart and then attached: attaching takes only a
-- SHARE UPDATE EXCLUSIVE lock on the log (requests keep appending) and a
-- short exclusive lock on the DEFAULT partition, which it checks for rows of
-- that month. When the DEFAULT partition holds rows of that month (the
-- sealer did not run for months), the month is left there, with a warning:
-- moving rows would mean deleting them from the log.
CREATE FUNCTION audit_create_partition(month date) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
SET lock_timeout = '2s'
AS $$
DECLARE
    first_day timestamp := date_trunc('month', month::timestamp);
    lower_bound timestamptz := first_day AT TIME ZONE 'UTC';
    upper_bound timestamptz := (first_day + interval '1 month') AT TIME ZONE 'UTC';
    part text := 'audit_events_' || to_char(first_day, 'YYYY_MM');
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM audit_events_default
               WHERE occurred_at >= lower_bound AND occurred_at < upper_bound) THEN
        RAISE WARNING 'la partición por defecto de la bitácora tiene filas de %; el mes se queda en ella', part;
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE audit_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    -- The range as a constraint first: attaching then skips scanning the table.
    EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (occurred_at >= %L AND occurred_at < %L)',
                   part, part || '_range', lower_bound, upper_bound);
    EXECUTE format('ALTER TABLE audit_events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   part, lower_bound, upper_bound);
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', part, part || '_range');
    PERFORM audit_protect_partition(part::regclass);
    RETURN true;
END
$$;

-- The months from the current one to `months_ahead` after it; returns how
-- many partitions it created. Called by every server's sealer at start and
-- every hour, so a month's partition exists long before its first row.
CREATE FUNCTION audit_ensure_partitions(months_ahead integer) RETURNS integer
LANGUAGE sql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
    SELECT count(*)::integer FROM generate_series(0, months_ahead) AS m
    WHERE audit_create_partition(((now() AT TIME ZONE 'UTC') + make_interval(months => m))::date)
$$;

-- The API's role may only ask for the coming months (its sealer does); the
-- two helpers act on any name or month and stay the owner's.
REVOKE EXECUTE ON FUNCTION audit_protect_partition(regclass), audit_create_partition(date)
    FROM PUBLIC, sintra_app;

-- Existing rows move into their months.
SELECT audit_create_partition(m::date)
FROM generate_series(
         date_trunc('month', coalesce((SELECT min(occurred_at) FROM audit_events_unpartitioned), now()) AT TIME ZONE 'UTC'),
         date_trunc('month', now() AT TIME ZONE 'UTC'),
         interval '1 month') AS m;
SELECT audit_ensure_partitions(3);

INSERT INTO audit_events (id, occurred_at, kind, actor_id, actor_username, institution_id,
                          entity_code, request_id, ip, action, resource_type, resource_id,
                          changes, details, outcome, txid)
SELECT id, occurred_at, kind, actor_id, actor_username, institution_id,
       entity_code, request_id, ip, action, resource_type, resource_id,
       changes, details, outcome, txid
FROM audit_events_unpartitioned;
DROP TABLE audit_events_unpartitioned;

-- A primary key on a partitioned table includes the partition key; ids stay
-- unique because only the sequence gives them (the API cannot choose one).
ALTER TABLE audit_events ADD PRIMARY KEY (id, occurred_at);
CREATE INDEX audit_events_occurred ON audit_events (occurred_at);
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX audit_events_resource ON audit_events (resource_type, resource_id);
CREATE INDEX audit_events_entity ON audit_events (entity_code, id);
CREATE INDEX audit_events_txid ON audit_events (txid);

REVOKE ALL ON audit_events FROM PUBLIC, sintra_app;
GRANT SELECT ON audit_events TO sintra_app;
GRANT INSERT (kind, actor_id, actor_username, institution_id, entity_code, request_id, ip,
              action, resource_type, resource_id, changes, details, outcome)
    ON audit_events TO sintra_app;

-- Each chain row names the time of its event: verification reads only the
-- partitions from the oldest event it checks on.
ALTER TABLE audit_chain ADD COLUMN event_at timestamptz;
ALTER TABLE audit_chain DISABLE TRIGGER audit_chain_no_update_delete;
UPDATE audit_chain c SET event_at = e.occurred_at FROM audit_events e WHERE e.id = c.event_id;
-- A chain row whose event is already gone keeps a time no event has, so
-- verify still reports it.
UPDATE audit_chain SET event_at = '-infinity' WHERE event_at IS NULL;
ALTER TABLE audit_chain ENABLE TRIGGER audit_chain_no_update_delete;
ALTER TABLE audit_chain ALTER COLUMN event_at SET NOT NULL;

-- The chain's older part, once archived (README, retention): verification
-- without a checkpoint starts after the newest row here instead of at the
-- chain's first position. Only the owner writes it.
CREATE TABLE audit_archive (
    position     bigint PRIMARY KEY,
    hash         text NOT NULL,
    partition    text NOT NULL,
    archived_at  timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON audit_archive FROM PUBLIC, sintra_app;
GRANT SELECT ON audit_archive TO sintra_app;
CREATE TRIGGER audit_archive_no_update_delete BEFORE UPDATE OR DELETE ON audit_archive
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();

-- Unchanged definition (see 2026-12-02-400001_audit_sealed_chain), over
-- the partitioned table's row type.
CREATE FUNCTION audit_event_hash(prev text, e audit_events) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(
        prev || chr(31) || e.id::text || chr(31)
        || to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || chr(31)
        || e.kind || chr(31)
        || coalesce(e.actor_id::text, chr(30)) || chr(31)
        || coalesce(e.actor_username, chr(30)) || chr(31)
        || coalesce(e.institution_id::text, chr(30)) || chr(31)
        || coalesce(e.entity_code, chr(30)) || chr(31)
        || coalesce(e.request_id, chr(30)) || chr(31)
        || coalesce(e.ip, chr(30)) || chr(31)
        || e.action || chr(31) || e.resource_type || chr(31)
        || coalesce(e.resource_id, chr(30)) || chr(31)
        || coalesce(e.changes::text, chr(30)) || chr(31)
        || coalesce(e.details::text, chr(30)) || chr(31)
        || e.outcome, 'UTF8')), 'hex')
$$;

-- Appends a batch of entries (a JSON array) in the caller's transaction;
-- id, time and transaction come from the column defaults.
CREATE FUNCTION audit_append(entries jsonb) RETURNS SETOF bigint
LANGUAGE sql AS $$
    INSERT INTO audit_events (kind, actor_id, actor_username, institution_id,
                              entity_code, request_id, ip, action, resource_type, resource_id,
                              changes, details, outcome)
    SELECT e.value->>'kind', (e.value->>'actor_id')::uuid, e.value->>'actor_username',
           (e.value->>'institution_id')::uuid, e.value->>'entity_code', e.value->>'request_id',
           e.value->>'ip', e.value->>'action', e.value->>'resource_type', e.value->>'resource_id',
           CASE WHEN jsonb_typeof(e.value->'changes') = 'object' THEN e.value->'changes' END,
           CASE WHEN jsonb_typeof(e.value->'details') = 'object' THEN e.value->'details' END,
           e.value->>'outcome'
    FROM jsonb_array_elements(entries) WITH ORDINALITY AS e(value, n)
    ORDER BY e.n
    RETURNING id
$$;

-- As before (2026-12-02-400001_audit_sealed_chain), writing `event_at`.
CREATE FUNCTION audit_seal(wait boolean) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    head audit_chain_head;
    next_horizon xid8;
    e audit_events;
    prev text;
    pos bigint;
    last_event bigint;
    sealed bigint := 0;
BEGIN
    IF wait THEN
        PERFORM pg_advisory_xact_lock(5372010402);
    ELSIF NOT pg_try_advisory_xact_lock(5372010402) THEN
        RETURN 0;
    END IF;
    -- Taken before reading the events: every transaction older than this had
    -- ended by then, so the query below sees all of its rows.
    next_horizon := pg_snapshot_xmin(pg_current_snapshot());
    SELECT * INTO head FROM audit_chain_head WHERE singleton;
    prev := head.hash;
    pos := head.position;
    last_event := head.event_id;
    FOR e IN
        SELECT a.* FROM audit_events a
        WHERE a.txid >= head.horizon
          AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.event_id = a.id)
        ORDER BY a.id
    LOOP
        pos := pos + 1;
        INSERT INTO audit_chain (position, event_id, prev_hash, hash, event_at)
        VALUES (pos, e.id, prev, audit_event_hash(prev, e), e.occurred_at)
        RETURNING hash INTO prev;
        last_event := e.id;
        sealed := sealed + 1;
    END LOOP;
    UPDATE audit_chain_head
    SET position = pos, event_id = last_event, hash = prev,
        horizon = greatest(head.horizon, next_horizon)
    WHERE singleton;
    RETURN sealed;
END
$$;
