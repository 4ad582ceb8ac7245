-- Back to the in-row chain. Rows not sealed yet are sealed first, so every
-- row gets its hash back.
SELECT audit_seal(true);
DROP FUNCTION audit_seal(boolean);
DROP FUNCTION audit_append(jsonb);
ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete;
ALTER TABLE audit_events ADD COLUMN prev_hash text, ADD COLUMN hash text;
UPDATE audit_events e SET prev_hash = c.prev_hash, hash = c.hash
FROM audit_chain c WHERE c.event_id = e.id;
ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete;
ALTER TABLE audit_events ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN hash SET NOT NULL;
DROP INDEX audit_events_txid;
ALTER TABLE audit_events DROP COLUMN txid;
DROP FUNCTION audit_event_hash(text, audit_events);
DROP TABLE audit_chain_head;
DROP TABLE audit_chain;
GRANT INSERT ON audit_events TO sintra_app;

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
