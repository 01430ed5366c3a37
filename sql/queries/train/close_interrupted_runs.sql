-- Earlier `brd train` commands on a run that are still `running` were killed (the output folder's
-- lock guarantees one command per run at a time): mark them failed when the run is resumed.
-- params: error, run_ids of the training run (varchar[]), the current run_id
update runs set status = 'failed', finished_at = current_timestamp, error = ?
where status = 'running' and list_contains(?, run_id) and run_id <> ?
