ALTER INDEX records_blocking_keys RESET (fastupdate);
DROP FUNCTION person_candidate_ids(text[], integer);
