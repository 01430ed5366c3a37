-- 005: evaluation results, per-example predictions, and the analyses (cross entropy, probes).

-- grain: one row per (evaluation run, task); key: (run_id, task)
create table eval_results (
    run_id varchar not null,
    model varchar not null,            -- model folder or hub id as given
    model_fingerprint varchar not null,
    train_run_id varchar,              -- from the checkpoint's brd_lineage.json, when present
    mixture_hash varchar,
    train_passages bigint,             -- the training mixture's rows (its manifest.json), for data-size curves
    train_step integer,
    task varchar not null,             -- xnli, rte, ..., bigbench:NAME, bigbench:NAME:SUBTASK
    task_kind varchar not null,        -- template | bigbench | bigbench_subtask
    parent_task varchar,               -- a subtask's task (its grade is the mean of its subtasks)
    source varchar not null,           -- data file, task.json, or hf:DATASET:CONFIG@SPLIT
    source_sha256 varchar,             -- null for hub datasets
    template_hash varchar not null,    -- Table 8 template + candidates + answer prefix, or BIG-bench prefixes
    metric varchar not null,           -- accuracy | multiple_choice_grade
    selection varchar not null,        -- which score picks the prediction: mean (§3.3) | sum | char
    n integer not null,                -- examples scored
    n_labelled integer not null,       -- examples with a gold answer (the accuracy's denominator)
    n_skipped integer not null,        -- examples in the file left out (e.g. BIG-bench generative ones)
    accuracy double,                   -- in [0, 1]; null when no example is labelled
    created_at timestamp not null default current_timestamp,
    primary key (run_id, task)
);

-- grain: one row per (evaluation run, task, example); key: (run_id, task, position)
create table eval_predictions (
    run_id varchar not null,
    task varchar not null,
    position integer not null,         -- the example's order in the task, from 0
    example_id varchar not null,       -- idx/id field of the record, else its position
    prompt varchar not null,           -- the exact text the model was conditioned on
    answer_prefix varchar not null,    -- put between the prompt and each candidate
    candidates struct(
        candidate varchar,
        n_tokens integer,              -- tokens scored (prompt and candidate tokenised together)
        n_chars integer,               -- characters of answer_prefix + candidate
        logprob_sum double,
        logprob_mean double,           -- §3.3: logprob_sum / n_tokens
        logprob_per_char double,       -- logprob_sum / n_chars
        target_score double            -- credit for predicting it (1/0, or BIG-bench's target_scores)
    )[] not null,
    prediction varchar not null,
    gold varchar,
    score double,                      -- credit of the prediction; null when unlabelled
    primary key (run_id, task, position)
);

-- grain: one row per (analysis run, student model, task); key: (run_id, model_fingerprint, task)
create table eval_cross_entropy (
    run_id varchar not null,
    teacher varchar not null,
    teacher_fingerprint varchar not null,
    model varchar not null,            -- the student q
    model_fingerprint varchar not null,
    task varchar not null,
    task_kind varchar not null,
    source varchar not null,
    n integer not null,                -- texts (at most --max-texts per task, sampled with --seed)
    cross_entropy double not null,     -- §5.2: -sum_i p_i log q_i, p/q sequence probabilities averaged per token
    cross_entropy_mean double not null,-- the same divided by n
    teacher_logprob_mean double not null,  -- mean over texts of the teacher's per-token average log p
    model_logprob_mean double not null,    -- mean over texts of the student's per-token average log q
    created_at timestamp not null default current_timestamp,
    primary key (run_id, model_fingerprint, task)
);

-- grain: one row per (probe run, task, layer); key: (run_id, task, layer)
create table eval_probes (
    run_id varchar not null,
    model varchar not null,
    model_fingerprint varchar not null,
    task varchar not null,
    source varchar not null,
    layer integer not null,            -- 0: embeddings, i: output of block i
    n integer not null,                -- labelled examples probed
    n_classes integer not null,
    folds integer not null,
    regularization double not null,    -- logistic regression's C (inverse L2 strength)
    accuracy double not null,          -- mean cross-validated accuracy
    accuracy_std double not null,
    majority double not null,          -- accuracy of always predicting the most frequent label
    created_at timestamp not null default current_timestamp,
    primary key (run_id, task, layer)
);
