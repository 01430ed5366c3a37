-- The latest accuracy of each (model, task) under the study's `$selection` (brd eval --select)
-- for a study's tables: `table_models` (model, model_fingerprint) is registered by the runner.
-- Subtasks are left out: a BIG-bench task with subtasks has one row (their mean).
-- grain: one row per (model, task); key: (model, task)
with latest as (
    select *
    from eval_results
    where task_kind in ('template', 'bigbench') and selection = $selection
    qualify row_number() over (partition by model_fingerprint, task order by created_at desc) = 1
),
final as (
    select m.model, l.task, l.task_kind, l.accuracy, l.n, l.run_id as eval_run_id, l.train_run_id,
           l.mixture_hash, l.train_step, l.model_fingerprint
    from table_models as m
    join latest as l using (model_fingerprint)
)
select * from final order by model, task_kind desc, task
