DROP FUNCTION person_candidates_each(text[], integer);
