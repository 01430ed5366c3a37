-- Runs, newest first
select
    run_id,
    command,
    status,
    round(epoch(coalesce(finished_at, current_timestamp::timestamp) - started_at), 1) as seconds,
    strftime(started_at, '%Y-%m-%d %H:%M:%S') as started,
    array_to_string(
        list_transform(json_keys(row_counts), lambda k: replace(k, '_added', '') || ' ' || (row_counts ->> k)), ', '
    ) as row_counts,
    error
from runs
order by started_at desc
limit 20
