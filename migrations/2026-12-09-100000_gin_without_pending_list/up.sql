-- The blocking keys' GIN index without its pending list (`fastupdate`).
--
-- With the default `fastupdate = on`, new keys go to an unsorted pending
-- list until it reaches `gin_pending_list_limit` (4 MB) or a vacuum folds
-- it, and every lookup reads that whole list besides the index proper. A
-- duplicate check runs one lookup per person, so its cost grew with the
-- pending list: on 300,000 people, 2,000 lookups took 0.9 s with the list
-- empty and 15.7 s with only 3,000 people in it (126 pages), about 8 ms
-- more per lookup, up to about 30 ms with a full list. That is the tail of
-- every registration's check (issue 17, 18) and the slowing of the
-- import's later chunks, whose own new rows filled the list the system
-- check read (issue 19). Inserting straight into the index costs no more
-- in all (the list must be folded into the index anyway: 20,000 people
-- took 2.0 s plus 0.9 s of folding with the list, 2.5 s without).
ALTER INDEX records_blocking_keys SET (fastupdate = off);
SELECT gin_clean_pending_list('records_blocking_keys'::regclass);
