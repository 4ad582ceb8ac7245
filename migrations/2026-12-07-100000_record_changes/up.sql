-- The changes feed (`GET /api/v1/changes`): one row per write of a record,
-- written by a trigger in the writing transaction, so no code path (API,
-- Excel import, upsert, merge) can change a record without a row here.
--
-- Order must be commit-safe: a reader that has seen position N must never
-- later find a change at a position below N. A sequence value taken at
-- insert time is not enough (a transaction that took 10 may commit after
-- one that took 11 was read). So, as the audit chain does, rows are
-- written without a position and `record_changes_seal()` numbers them
-- later, in one pass at a time, and only the rows of transactions older
-- than the oldest one still running (`pg_snapshot_xmin`): every such
-- transaction has ended, so nothing can commit later into the numbered
-- range. Readers read numbered rows only, by position.
CREATE TABLE record_changes (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The writing transaction (the sealer waits for it to end).
    txid           xid8 NOT NULL DEFAULT pg_current_xact_id(),
    -- Assigned by the sealer; the feed's order and cursor.
    position       bigint UNIQUE,
    record_id      uuid NOT NULL,
    form           text NOT NULL,
    entity_code    text NOT NULL,
    institution_id uuid NOT NULL,
    version        integer NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('created', 'updated', 'deleted')),
    changed_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX record_changes_unsealed ON record_changes (id) WHERE position IS NULL;
CREATE INDEX record_changes_entity ON record_changes (entity_code, position) WHERE position IS NOT NULL;
CREATE INDEX record_changes_institution ON record_changes (institution_id, position) WHERE position IS NOT NULL;

CREATE FUNCTION record_changes_capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO record_changes (record_id, form, entity_code, institution_id, version, kind)
        VALUES (OLD.id, OLD.form, OLD.entity_code, OLD.institution_id, OLD.version, 'deleted');
        RETURN OLD;
    END IF;
    -- A write that changes nothing the feed shows (e.g. only blocking keys)
    -- is still a write: followers re-read by version, so report it only
    -- when the version or the data moved.
    IF TG_OP = 'UPDATE' AND NEW.version = OLD.version AND NEW.data = OLD.data
       AND NEW.entity_code = OLD.entity_code AND NEW.institution_id = OLD.institution_id THEN
        RETURN NEW;
    END IF;
    INSERT INTO record_changes (record_id, form, entity_code, institution_id, version, kind)
    VALUES (NEW.id, NEW.form, NEW.entity_code, NEW.institution_id, NEW.version,
            CASE TG_OP WHEN 'INSERT' THEN 'created' ELSE 'updated' END);
    RETURN NEW;
END $$;

CREATE TRIGGER records_changes AFTER INSERT OR UPDATE OR DELETE ON records
    FOR EACH ROW EXECUTE FUNCTION record_changes_capture();

-- Numbers the rows of ended transactions, in id order, after the last
-- position. One sealer at a time (the others skip: the running one
-- numbers their rows too, or the next call does). Returns how many rows
-- it numbered.
--
-- The horizon is the oldest transaction still running in this database
-- (a row of an older one is final). `pg_snapshot_xmin` would give the
-- oldest in the whole cluster, so another database's open transaction
-- would hold the feed back; this database's own come from
-- `pg_stat_activity`, whose `backend_xid` the owner sees only with
-- `pg_read_all_stats` (or as superuser): without it, the cluster-wide
-- horizon is used, later but never unsafe.
CREATE FUNCTION record_changes_seal() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    next8   bigint;
    epoch   bigint;
    horizon bigint;
    sealed  bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('sintra.record_changes_seal')) THEN
        RETURN 0;
    END IF;
    -- Every transaction id assigned from here on is >= next8.
    next8 := pg_snapshot_xmax(pg_current_snapshot())::text::bigint;
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') THEN
        epoch := (next8 >> 32) << 32;
        SELECT min(CASE WHEN epoch + a.backend_xid::text::bigint > next8
                        THEN epoch + a.backend_xid::text::bigint - 4294967296
                        ELSE epoch + a.backend_xid::text::bigint END)
          INTO horizon
          FROM pg_stat_activity a
         WHERE a.datname = current_database()
           AND a.backend_xid IS NOT NULL
           AND a.pid <> pg_backend_pid();
        horizon := coalesce(horizon, next8);
    ELSE
        horizon := pg_snapshot_xmin(pg_current_snapshot())::text::bigint;
    END IF;
    WITH last AS (
        SELECT coalesce(max(position), 0) AS p FROM record_changes
    ), pending AS (
        SELECT id, row_number() OVER (ORDER BY id) AS n
        FROM record_changes
        WHERE position IS NULL AND txid::text::bigint < horizon
    )
    UPDATE record_changes c SET position = last.p + pending.n
    FROM pending, last
    WHERE c.id = pending.id;
    GET DIAGNOSTICS sealed = ROW_COUNT;
    RETURN sealed;
END $$;

-- The application reads the feed and runs the sealer; it never writes a
-- change row itself (the trigger does, as the owner) nor removes one.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON record_changes FROM sintra_app;
GRANT SELECT ON record_changes TO sintra_app;

-- Records written before the feed existed appear once, as created, so a
-- follower starting from the beginning gets everything.
INSERT INTO record_changes (record_id, form, entity_code, institution_id, version, kind, changed_at)
SELECT id, form, entity_code, institution_id, version, 'created', updated_at
FROM records ORDER BY created_at, id;
