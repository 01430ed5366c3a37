-- Runs that say they are running: the next writer checks whether their process is still alive.
select run_id, command, pid, host, coalesce(lease, 'pid') as lease
from runs
where status = 'running'
