-- The latest cross entropy of each (student, task) against a teacher ($teacher_fingerprint), for
-- a study's Table 5; `table_models` (model, model_fingerprint) is registered by the runner.
-- grain: one row per (model, task); key: (model, task)
with latest as (
    select *
    from eval_cross_entropy
    where teacher_fingerprint = $teacher_fingerprint
    qualify row_number() over (partition by model_fingerprint, task order by created_at desc) = 1
)
select m.model, l.task, l.task_kind, l.cross_entropy, l.n
from table_models as m
join latest as l using (model_fingerprint)
order by m.model, l.task_kind desc, l.task
