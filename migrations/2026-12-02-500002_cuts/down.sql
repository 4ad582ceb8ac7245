DROP TABLE cut_records;
DROP TABLE cuts;
