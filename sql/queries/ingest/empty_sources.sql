-- Inputs this run read to the end that gave no document, with how many rows they quarantined and
-- the first reason (a wrong --text-field, an empty file): the command exits non-zero for them.
with staged as (
    select path from read_parquet($sources) where error is null and n_documents = 0
),
quarantined as (
    select
        source_file,
        count(*) as n,
        -- a record's reason says more than the file-level "no documents" row
        coalesce(min(location || ': ' || reason) filter (where location <> 'file'), min(reason)) as first_reason
    from read_parquet($quarantine)
    group by source_file
)
select s.path, coalesce(q.n, 0) as n_quarantined, q.first_reason
from staged as s
left join quarantined as q on q.source_file = s.path
order by s.path
