-- Ingest runs among $run_ids (staging folders found in STORE/staging) that have ended: whatever
-- they staged is of no further use (a rerun reads its inputs again), so it is removed.
select run_id
from runs
where run_id in (select unnest($run_ids::varchar[]))
  and command like 'ingest%'
  and status <> 'running'
