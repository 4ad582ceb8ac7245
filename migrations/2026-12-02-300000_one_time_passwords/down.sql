ALTER TABLE users DROP COLUMN one_time_password_expires_at;
