-- A run whose process died (kill -9, OOM killer, power loss) without ending it. What it committed
-- stays; a rerun of the same command resumes after it.
update runs
set status = 'interrupted', finished_at = current_timestamp,
    error = coalesce(error, $error)
where run_id = $run_id and status = 'running'
