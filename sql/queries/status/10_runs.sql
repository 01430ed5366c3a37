-- Runs, newest first
select
    run_id,
    command,
    status,
    strftime(started_at, '%Y-%m-%d %H:%M:%S') as started,
    round(epoch(coalesce(finished_at, current_timestamp::timestamp) - started_at), 1) as seconds,
    regexp_replace(row_counts::varchar, '[{}"]|_added', '', 'g') as row_counts,
    error
from runs
order by started_at desc
limit 20
