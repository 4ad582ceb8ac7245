-- An import job whose database failed under it (the server stopped, a
-- connection cut, a statement or lock wait over its bound, too many
-- clients) is put back for a worker instead of failed: it is resumed from
-- the start (its commit is one transaction, so nothing of it was written)
-- once `retry_at` has passed, so that a database still struggling is not
-- hammered. It counts as an attempt; after `attempts` tries it is failed
-- with the reason.
ALTER TABLE import_jobs ADD COLUMN retry_at timestamptz;
