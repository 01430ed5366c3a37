-- An annotate run that was killed: its committed rows stay, the next run resumed after them.
update runs
set status = 'failed',
    finished_at = current_timestamp,
    error = 'interrupted before it finished; its committed annotations are kept'
where run_id = $run_id and status = 'running'
