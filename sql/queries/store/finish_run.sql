-- A run ends: succeeded, failed or interrupted, with its counters and the first line of its error.
update runs
set status = $status, finished_at = current_timestamp, row_counts = $row_counts, error = $error
where run_id = $run_id
