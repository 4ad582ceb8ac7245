-- A password someone else chose or generated (the first admin's, a new
-- user's, a reset) is one-time: while this is set, its sessions may only
-- change it, and it no longer logs in after this instant.
ALTER TABLE users ADD COLUMN one_time_password_expires_at timestamptz;
