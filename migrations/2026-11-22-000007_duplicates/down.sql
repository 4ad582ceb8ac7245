DROP TABLE duplicate_pairs; DROP TABLE person_keys;
