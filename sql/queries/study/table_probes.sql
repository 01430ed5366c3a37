-- The latest layer-wise probe accuracies of each (model, task), for a study's Figure 4;
-- `table_models` (model, model_fingerprint) is registered by the runner.
-- grain: one row per (model, task, layer); key: (model, task, layer)
with runs as (
    select model_fingerprint, task, max(created_at) as at
    from eval_probes
    group by model_fingerprint, task
)
select m.model, p.task, p.layer, p.accuracy, p.majority, p.n
from table_models as m
join runs as r using (model_fingerprint)
join eval_probes as p on p.model_fingerprint = r.model_fingerprint and p.task = r.task and p.created_at = r.at
order by m.model, p.task, p.layer
