CREATE INDEX records_data ON records USING gin (data jsonb_path_ops);
