-- Back to one unpartitioned table: the rows move back, the chain loses
-- `event_at`, the archive table goes (archived months stay archived).
DROP FUNCTION audit_seal(boolean);
DROP FUNCTION audit_append(jsonb);
DROP FUNCTION audit_event_hash(text, audit_events);
DROP FUNCTION audit_ensure_partitions(integer);
DROP FUNCTION audit_create_partition(date);
DROP TABLE audit_archive;

ALTER TABLE audit_events RENAME TO audit_events_partitioned;
ALTER SEQUENCE audit_events_id_seq OWNED BY NONE;
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
    txid           xid8 NOT NULL DEFAULT pg_current_xact_id()
);
ALTER SEQUENCE audit_events_id_seq OWNED BY audit_events.id;
INSERT INTO audit_events SELECT * FROM audit_events_partitioned;
DROP TABLE audit_events_partitioned;
DROP FUNCTION audit_protect_partition(regclass);
CREATE INDEX audit_events_occurred ON audit_events (occurred_at);
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX audit_events_resource ON audit_events (resource_type, resource_id);
CREATE INDEX audit_events_entity ON audit_events (entity_code, id);
CREATE INDEX audit_events_txid ON audit_events (txid);
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
REVOKE ALL ON audit_events FROM sintra_app;
GRANT SELECT ON audit_events TO sintra_app;
GRANT INSERT (id, occurred_at, kind, actor_id, actor_username, institution_id, entity_code,
              request_id, ip, action, resource_type, resource_id, changes, details, outcome)
    ON audit_events TO sintra_app;

ALTER TABLE audit_chain DROP COLUMN event_at;

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
