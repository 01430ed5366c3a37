-- Every checkpoint with the run, mixture and student behind it; evaluation joins here by path or
-- (train_run_id, step). grain: one row per checkpoint; key: (train_run_id, step)
select
    c.train_run_id,
    c.step,
    c.path,
    c.loss,
    c.tokens,
    c.removed_at is not null as removed,
    t.mixture_hash,
    t.mixture_name,
    t.mixture_kind,
    t.student,
    t.parent_train_run_id,
    t.status as run_status
from train_checkpoints as c
join train_runs as t using (train_run_id)
order by c.train_run_id, c.step
