-- 004: student training runs and their checkpoints, so that evaluation results join back to the
-- mixture (and through it to the teacher outputs) that produced a model.

-- grain: one row per training run (a fresh `brd train`; `--resume` continues the same row);
-- key: train_run_id
create table train_runs (
    train_run_id varchar primary key,  -- = run_id of the command that started it
    run_ids varchar[] not null,        -- every `brd train` command (runs rows) that worked on it
    mixture_hash varchar not null,     -- manifest.json `mixture_hash`
    mixture_name varchar,
    mixture_kind varchar not null,     -- lm | sft
    mixture_dir varchar not null,
    manifest_sha256 varchar not null,  -- sha256 of the manifest.json bytes
    student varchar not null,          -- folder or hub id as given
    student_fingerprint varchar not null,
    parent_train_run_id varchar,       -- set when the student is a `brd train` checkpoint (BRD², BRD then SFT)
    parent_step integer,
    output_dir varchar not null,
    config json not null,              -- the resolved training configuration
    max_steps integer not null,
    status varchar not null,           -- running | stopped | succeeded | failed
    last_step integer,
    final_loss double,                 -- the last logged training loss
    final_checkpoint varchar,
    loss_plot varchar,
    started_at timestamp not null,
    updated_at timestamp,
    finished_at timestamp,
    error varchar
);

-- grain: one row per saved checkpoint; key: (train_run_id, step)
create table train_checkpoints (
    train_run_id varchar not null,
    step integer not null,
    path varchar not null,             -- the checkpoint folder (holds brd_lineage.json)
    loss double,                       -- the last training loss logged at or before this step
    tokens bigint,                     -- training tokens seen up to this step (all processes)
    run_id varchar not null,           -- the `brd train` command that wrote it
    created_at timestamp not null default current_timestamp,
    removed_at timestamp,              -- set once the folder is gone (--save-total-limit rotation)
    primary key (train_run_id, step)
);
