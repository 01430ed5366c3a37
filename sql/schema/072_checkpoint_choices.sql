-- 072: which checkpoint of a training run is evaluated, and why (`brd checkpoints choose`): the
-- rule (last, or best mean accuracy on tuning tasks), each checkpoint's tuning accuracy per task,
-- and the chosen one. The choice is also written to OUT/brd_choice.json next to the checkpoints.
-- grain: one row per (choice run, checkpoint, tuning task); key: (run_id, step, task)
create table checkpoint_choices (
    run_id varchar not null,           -- the `checkpoints choose` run
    train_dir varchar not null,        -- the training output folder
    train_run_id varchar,
    rule varchar not null,             -- last | best
    step integer not null,
    checkpoint varchar not null,       -- the checkpoint folder's path
    task varchar not null,             -- a tuning task; '' for the rule `last` (nothing scored)
    source varchar,                    -- the tuning file
    n integer,                         -- tuning examples scored
    accuracy double,
    mean_accuracy double,              -- over the tuning tasks: what `best` maximises
    chosen boolean not null,
    primary key (run_id, step, task)
);
