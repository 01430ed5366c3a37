-- 032: downstream task examples (Table 8 prompts with their candidates and gold labels), loaded
-- by `brd tasks load`: the inputs of task distillation (the `task` annotation behaviour) and the
-- gold labels of the SFT baseline.

-- grain: one row per example of a task file split; key: (task, split, example_id)
create table task_examples (
    task varchar not null,             -- manifests/tasks/NAME.yaml (its `name`)
    split varchar not null,            -- train | validation | ... as given to `brd tasks load --split`
    example_id varchar not null,       -- the record's idx / id, else its position
    position integer not null,         -- record index within the file, from 0
    source_file varchar not null,
    source_sha256 varchar not null,    -- of the file's bytes: an unchanged file is not re-loaded
    template_hash varchar not null,    -- TaskSpec.template_hash: template, candidates, answer prefix
    prompt varchar not null,           -- the rendered Table 8 prompt
    text_hash varchar not null,        -- of the prompt, normalised as sentences are: joins annotations.text_hash
    candidates varchar[] not null,
    answer_prefix varchar not null,    -- what joins prompt and answer (" ")
    gold varchar,                      -- a candidate; null when the file has no label
    fields json not null,              -- the template's input fields as read
    run_id varchar not null,
    primary key (task, split, example_id)
);
