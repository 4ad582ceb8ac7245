-- The audit log (bitácora de accesos y modificaciones): append-only and
-- hash-chained. Each row's hash covers its own fields and the previous
-- row's hash, so an altered, inserted or removed row breaks the chain at
-- that point and /api/v1/audit/verify names it.
CREATE TABLE audit_events (
    id             bigint PRIMARY KEY,
    occurred_at    timestamptz NOT NULL,
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
    prev_hash      text NOT NULL,
    hash           text NOT NULL
);
CREATE SEQUENCE audit_events_id_seq OWNED BY audit_events.id;
CREATE INDEX audit_events_occurred ON audit_events (occurred_at);
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX audit_events_resource ON audit_events (resource_type, resource_id);
CREATE INDEX audit_events_entity ON audit_events (entity_code, id);

-- The one definition of a row's hash, used when appending and verifying.
-- NULLs become a marker that no value can take, so fields cannot shift.
CREATE FUNCTION audit_row_hash(e audit_events) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(
        e.prev_hash || chr(31) || e.id::text || chr(31)
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

-- Appends a batch of entries (a JSON array) to the chain. Callers make it the
-- last statement of their transaction: the chain lock it takes is then held
-- only while the transaction commits, not across the whole request. It needs
-- READ COMMITTED (the default) so that, once it holds the lock, it sees the
-- row the previous holder committed.
CREATE FUNCTION audit_append(entries jsonb) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
    prev text;
    entry jsonb;
    r audit_events;
BEGIN
    PERFORM pg_advisory_xact_lock(5372010401);
    SELECT a.hash INTO prev FROM audit_events a ORDER BY a.id DESC LIMIT 1;
    prev := coalesce(prev, repeat('0', 64));
    FOR entry IN SELECT value FROM jsonb_array_elements(entries) LOOP
        r.id := nextval('audit_events_id_seq');
        r.occurred_at := clock_timestamp();
        r.kind := entry->>'kind';
        r.actor_id := (entry->>'actor_id')::uuid;
        r.actor_username := entry->>'actor_username';
        r.institution_id := (entry->>'institution_id')::uuid;
        r.entity_code := entry->>'entity_code';
        r.request_id := entry->>'request_id';
        r.ip := entry->>'ip';
        r.action := entry->>'action';
        r.resource_type := entry->>'resource_type';
        r.resource_id := entry->>'resource_id';
        r.changes := CASE WHEN jsonb_typeof(entry->'changes') = 'object' THEN entry->'changes' END;
        r.details := CASE WHEN jsonb_typeof(entry->'details') = 'object' THEN entry->'details' END;
        r.outcome := entry->>'outcome';
        r.prev_hash := prev;
        r.hash := audit_row_hash(r);
        INSERT INTO audit_events VALUES (r.*);
        prev := r.hash;
        RETURN NEXT r.id;
    END LOOP;
END
$$;

CREATE FUNCTION audit_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'la bitácora solo admite anexar registros (%)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();

REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM sintra_app;
