-- A study's results table: one row per (study row, task) with the latest accuracy of that row's
-- model, and the lineage that produced it. `study_rows` (label, position, model_fingerprint) is
-- registered by the runner from the study manifest.
-- grain: one row per (label, task); key: (label, task)
with latest as (
    select *
    from eval_results
    where task_kind in ('template', 'bigbench')
    qualify row_number() over (partition by model_fingerprint, task order by created_at desc) = 1
),
lineage as (
    select train_run_id, mixture_name, mixture_hash, status as train_status, last_step
    from train_runs
),
final as (
    select
        r.label,
        r.position,
        l.task,
        l.task_kind,
        l.accuracy,
        l.ci_low,
        l.ci_high,
        l.ci_method,
        l.selection,
        l.n,
        l.model,
        l.model_fingerprint,
        l.run_id as eval_run_id,
        l.train_run_id,
        t.mixture_name,
        coalesce(t.mixture_hash, l.mixture_hash) as mixture_hash,
        l.train_passages,
        l.train_step
    from study_rows r
    join latest l using (model_fingerprint)
    left join lineage t using (train_run_id)
)
select * from final
order by position, task_kind desc, task
