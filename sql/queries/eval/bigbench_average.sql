-- The paper's BIG-bench-Avg per evaluation run: the unweighted mean grade over BIG-bench tasks
-- (a task with subtasks counts once, through its own row).
-- grain: one row per run_id; key: run_id
with tasks as (
    select * from eval_results where task_kind = 'bigbench' and accuracy is not null
),

final as (
    select
        run_id,
        any_value(model) as model,
        any_value(model_fingerprint) as model_fingerprint,
        count(*) as n_tasks,
        avg(accuracy) as bigbench_avg
    from tasks
    group by run_id
)

select * from final
order by run_id
