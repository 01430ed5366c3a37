-- The latest scored result of every (model, task); BIG-bench subtasks are left out (their task
-- has its own row, the mean of its subtasks).
-- grain: one row per (model_fingerprint, task); key: (model_fingerprint, task)
with results as (
    select * from eval_results
    where task_kind <> 'bigbench_subtask' and accuracy is not null
),

ranked as (
    select
        *,
        row_number() over (partition by model_fingerprint, task order by created_at desc, run_id desc) as rn,
        max(created_at) over (partition by model_fingerprint) as model_last_eval_at
    from results
),

final as (
    select
        run_id, model, model_fingerprint, train_run_id, train_passages, train_rows, mixture_name,
        mixture_kind, mixture_family, base_fingerprint, task, task_kind, metric, selection, n, n_labelled,
        accuracy, ci_low, ci_high, ci_method, created_at, model_last_eval_at
    from ranked
    where rn = 1
)

select * from final
order by model_last_eval_at, model_fingerprint, task
