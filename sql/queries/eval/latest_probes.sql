-- The latest probe run of every (model, task), all its layers.
-- grain: one row per (model_fingerprint, task, layer); key: (model_fingerprint, task, layer)
with runs as (
    select model_fingerprint, task, max(run_id) as run_id
    from eval_probes
    group by all
),

final as (
    select p.model, p.model_fingerprint, p.task, p.layer, p.n, p.folds, p.accuracy, p.accuracy_std, p.majority
    from eval_probes as p
    inner join runs using (model_fingerprint, task, run_id)
)

select * from final
order by model_fingerprint, task, layer
