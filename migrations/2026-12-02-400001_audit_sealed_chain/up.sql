-- The audit log at national load (issue 17, DESIGN §4, second shape).
--
-- Before: every audited transaction took one global advisory lock in
-- `audit_append` and held it through its commit, so the whole country's
-- audited requests committed one at a time, and the chain head was found by
-- `ORDER BY id DESC LIMIT 1`, a plan that degraded after an ANALYZE.
--
-- Now: requests insert their rows with no lock and no hash, in their own
-- transaction (a rolled-back request still leaves no row). A sealer
-- (`audit_seal`, called by one background task per server every 250 ms and
-- by the verify endpoint) chains the committed rows that are not chained yet,
-- in id order, into `audit_chain`: one chain row per event, holding the
-- previous chain hash and the hash over it and the event's content (the same
-- formula as before, so the rows already in the log keep their hashes). The
-- head of the chain lives in the one-row table `audit_chain_head`, read by
-- its primary key: no plan can degrade it.
--
-- Ids are taken from a sequence before their transaction commits, so they
-- commit out of order: the sealer must never skip a row that commits after it
-- has chained a larger id. Each row records its transaction's id (`txid`,
-- set by default and not writable by the API). The head keeps a horizon: the
-- oldest transaction still running when the sealer last looked
-- (`pg_snapshot_xmin`). Every transaction older than the horizon had ended,
-- so all its rows were visible and chained; the sealer therefore only looks
-- at rows with `txid >= horizon` that have no chain row yet, and chains a late
-- commit in the next pass instead of losing it. Order in the chain is the
-- order of sealing, and id order within one pass.

DROP FUNCTION audit_append(jsonb);
DROP FUNCTION audit_row_hash(audit_events);

CREATE TABLE audit_chain (
    position   bigint PRIMARY KEY,
    event_id   bigint NOT NULL UNIQUE,
    prev_hash  text NOT NULL,
    hash       text NOT NULL,
    sealed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE audit_chain_head (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    position   bigint NOT NULL,
    event_id   bigint,
    hash       text NOT NULL,
    horizon    xid8 NOT NULL
);

-- The rows chained so far keep their place and their hashes.
INSERT INTO audit_chain (position, event_id, prev_hash, hash, sealed_at)
SELECT row_number() OVER (ORDER BY id), id, prev_hash, hash, occurred_at
FROM audit_events;

ALTER TABLE audit_events DROP COLUMN prev_hash, DROP COLUMN hash;
ALTER TABLE audit_events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX audit_events_txid ON audit_events (txid);

INSERT INTO audit_chain_head (position, event_id, hash, horizon)
SELECT coalesce((SELECT max(position) FROM audit_chain), 0),
       (SELECT event_id FROM audit_chain ORDER BY position DESC LIMIT 1),
       coalesce((SELECT hash FROM audit_chain ORDER BY position DESC LIMIT 1), repeat('0', 64)),
       pg_current_xact_id();

-- The one definition of an event's chain hash, used when sealing and
-- verifying. NULLs become a marker that no value can take, so fields cannot
-- shift.
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

-- Appends a batch of entries (a JSON array) in the caller's transaction.
-- No lock: concurrent requests insert and commit in parallel (and their
-- commits are flushed together).
CREATE FUNCTION audit_append(entries jsonb) RETURNS SETOF bigint
LANGUAGE sql AS $$
    INSERT INTO audit_events (id, occurred_at, kind, actor_id, actor_username, institution_id,
                              entity_code, request_id, ip, action, resource_type, resource_id,
                              changes, details, outcome)
    SELECT nextval('audit_events_id_seq'), clock_timestamp(),
           e.value->>'kind', (e.value->>'actor_id')::uuid, e.value->>'actor_username',
           (e.value->>'institution_id')::uuid, e.value->>'entity_code', e.value->>'request_id',
           e.value->>'ip', e.value->>'action', e.value->>'resource_type', e.value->>'resource_id',
           CASE WHEN jsonb_typeof(e.value->'changes') = 'object' THEN e.value->'changes' END,
           CASE WHEN jsonb_typeof(e.value->'details') = 'object' THEN e.value->'details' END,
           e.value->>'outcome'
    FROM jsonb_array_elements(entries) WITH ORDINALITY AS e(value, n)
    ORDER BY e.n
    RETURNING id
$$;

-- Chains every committed event that has no chain row yet; returns how many.
-- Only one sealer works at a time (a transaction-scoped advisory lock that
-- no request takes): `wait` queues behind a running sealer (verify), without
-- it a busy sealer means there is nothing to do (the background task of
-- another instance is at it). SECURITY DEFINER: the API's role may call it
-- but has no right to write the chain tables itself.
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
        INSERT INTO audit_chain (position, event_id, prev_hash, hash)
        VALUES (pos, e.id, prev, audit_event_hash(prev, e))
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

-- The chain is append-only like the log; the head changes only through the
-- sealer (its owner's rights).
CREATE TRIGGER audit_chain_no_update_delete BEFORE UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();

REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_chain, audit_chain_head FROM sintra_app;
GRANT SELECT ON audit_chain, audit_chain_head TO sintra_app;
-- The API inserts events but never chooses their transaction id (a forged
-- old one would hide a row from the sealer).
REVOKE INSERT ON audit_events FROM sintra_app;
GRANT INSERT (id, occurred_at, kind, actor_id, actor_username, institution_id, entity_code,
              request_id, ip, action, resource_type, resource_id, changes, details, outcome)
    ON audit_events TO sintra_app;
