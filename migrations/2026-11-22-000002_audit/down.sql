DROP TABLE audit_events CASCADE;
DROP FUNCTION audit_append(jsonb);
DROP FUNCTION audit_events_refuse_change();
