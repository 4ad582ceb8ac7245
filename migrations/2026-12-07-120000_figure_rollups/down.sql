DROP FUNCTION IF EXISTS figure_compact(integer, boolean);
DROP TABLE IF EXISTS projection_state, figure_sources, figure_deltas, figure_totals;
