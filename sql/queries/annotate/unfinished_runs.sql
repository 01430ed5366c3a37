-- Local annotate runs that did not finish (killed, crashed or interrupted). The next run commits
-- the closed parts they left in staging. Slurm/Ray runs are left to their own commit job.
select run_id, status
from runs
where command = 'annotate'
  and status in ('running', 'failed', 'interrupted')
  and coalesce(json_extract_string(config, '$.executor.kind'), 'local') = 'local'
order by started_at
