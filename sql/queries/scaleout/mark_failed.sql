-- A Slurm run whose commit job ended without recording it (cancelled, killed, out of memory):
-- `brd ... --wait` marks it failed with what the job's output says.
update runs
set status = 'failed',
    finished_at = current_timestamp,
    error = $error
where run_id = $run_id and status = 'running'
