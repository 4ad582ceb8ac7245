ALTER INDEX records_blocking_keys RESET (fastupdate);
