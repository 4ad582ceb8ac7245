DROP TRIGGER records_changes ON records;
DROP FUNCTION record_changes_seal();
DROP FUNCTION record_changes_capture();
DROP TABLE record_changes;
