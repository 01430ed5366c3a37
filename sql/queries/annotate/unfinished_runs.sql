-- Annotate runs that did not finish: local runs that were killed, crashed or interrupted (the
-- writer that opened the store has closed those of dead processes as `interrupted`), Ray runs that
-- are still `running` (recover_interrupted checks that the brd process driving them is gone), and
-- runs that ended `failed`. The next run commits the closed parts they left in staging. A Slurm
-- run that is `running` is left to its own commit job.
select run_id, status, coalesce(json_extract_string(config, '$.executor.kind'), 'local') as kind, pid, host
from runs
where command = 'annotate'
  and (status in ('failed', 'interrupted')
       or (status = 'running'
           and coalesce(json_extract_string(config, '$.executor.kind'), 'local') in ('local', 'ray')))
order by started_at
