-- The sealer as migration 2026-12-07-110000_audit_month_partitions left it.
CREATE OR REPLACE FUNCTION audit_seal(wait boolean) RETURNS bigint
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
