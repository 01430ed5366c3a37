-- Per-example credits of two evaluations of one task, example by example, for paired tests.
-- `wanted_pairs` (task, run_a, run_b) is registered by the caller: a task of eval_results (a
-- BIG-bench task with subtasks brings the examples of all its subtasks) and the two runs that
-- scored it. Examples pair on (unit, example_id, prompt): the same text in both runs; an example
-- scored in one run only, or unlabelled, is left out.
-- grain: one row per (task, unit, example) scored in both runs; key: (task, unit, example_id, prompt)
with preds as (
    select
        coalesce(r.parent_task, p.task) as top_task,
        p.run_id,
        p.task as unit,
        p.example_id,
        p.prompt,
        p.position,
        p.score
    from eval_predictions as p
    inner join eval_results as r using (run_id, task)
    where p.score is not null
),

a as (
    select preds.* from preds inner join wanted_pairs as w on preds.top_task = w.task and preds.run_id = w.run_a
),

b as (
    select preds.* from preds inner join wanted_pairs as w on preds.top_task = w.task and preds.run_id = w.run_b
),

final as (
    select
        a.top_task as task,
        a.unit,
        a.example_id,
        a.position,
        a.score as score_a,
        b.score as score_b
    from a
    inner join b
        on a.top_task = b.top_task and a.unit = b.unit and a.example_id = b.example_id and a.prompt = b.prompt
)

select * from final
order by task, unit, position
