-- Record filters compare `data->>'key'` (and `data->'key' ? value`), which a
-- jsonb_path_ops index over the whole document cannot serve; it only made
-- every insert slower. Dashboards will add the expression indexes they need.
DROP INDEX records_data;
