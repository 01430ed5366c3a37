-- Per-example credits of chosen (task, run) pairs: `wanted_runs` (task, run_id) is registered by
-- the caller. A BIG-bench task with subtasks brings the examples of all its subtasks (unit), so
-- its grade and interval can be recomputed as the mean over subtasks. Unlabelled examples are
-- left out.
-- grain: one row per (task, run_id, unit, position); key: (task, run_id, unit, position)
with preds as (
    select coalesce(r.parent_task, p.task) as top_task, p.run_id, p.task as unit, p.position, p.score
    from eval_predictions as p
    inner join eval_results as r using (run_id, task)
    where p.score is not null
),

final as (
    select w.task, w.run_id, preds.unit, preds.position, preds.score
    from preds
    inner join wanted_runs as w on preds.top_task = w.task and preds.run_id = w.run_id
)

select * from final
order by task, run_id, unit, position
