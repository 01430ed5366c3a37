-- Training runs, newest first
select
    train_run_id,
    mixture_name,
    status,
    last_step || '/' || max_steps as steps,
    round(final_loss, 4) as loss,
    (select count(*) from train_checkpoints c where c.train_run_id = t.train_run_id and c.removed_at is null) as checkpoints,
    mixture_kind as kind,
    regexp_extract(student, '[^/]+$') as student,
    output_dir
from train_runs as t
order by started_at desc
limit 20
