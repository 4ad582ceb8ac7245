DROP TRIGGER duplicate_pairs_regroup ON duplicate_pairs;
DROP FUNCTION duplicate_pair_regroup();
DROP FUNCTION person_regroup(uuid[], uuid, text, uuid);
DROP FUNCTION person_components(uuid[]);
DROP TABLE person_merges;
DROP TABLE person_links;
DROP FUNCTION person_uuid(uuid);
