-- How a run ended (or that it is still running): what `--wait` reports once the commit job is done.
select status, error, row_counts from runs where run_id = $run_id
