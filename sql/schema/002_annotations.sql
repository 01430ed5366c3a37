-- 002: teacher annotations and the prompt templates that produced them.

-- grain: one row per prompt template version; key: prompt_hash
create table prompts (
    prompt_hash varchar primary key,   -- sha256[:16] of the template file's content
    behaviour varchar not null,        -- ner | qra | task | a user's own
    name varchar not null,             -- the template file's stem
    mode varchar not null,             -- completion | chat
    parser varchar,                    -- ner | qra | raw: how `annotations.parsed` was read
    input varchar,                     -- sentence | task: the kind of unit the prompt reads
    template varchar not null,         -- the file's full text
    source_file varchar,
    run_id varchar not null
);

-- grain: one row per (sentence text, behaviour, teacher, prompt version);
-- key: (text_hash, behaviour, teacher_fingerprint, prompt_hash)
-- No PRIMARY KEY, like the large tables of 001: at paper scale this is the largest table (every
-- unique sentence x behaviour x teacher x prompt) and a DuckDB index must fit in memory. The
-- annotate commit keeps the key unique (sql/queries/annotate/load_annotations.sql); tests check it.
create table annotations (
    text_hash varchar not null,        -- joins sentences.text_hash
    behaviour varchar not null,
    raw_text varchar,                  -- the teacher's output as returned (after stop strings)
    parsed json,                       -- QRA: [{question, answer}]; NER: [{entity, type, detail}]
    teacher varchar not null,          -- model path or hub id as given
    teacher_fingerprint varchar not null,
    prompt_hash varchar not null,
    sampling json,                     -- temperature, top_p, max_tokens, stop, seed ...
    finish_reason varchar,
    prompt_tokens integer,
    completion_tokens integer,
    status varchar not null,           -- ok | unparsed | truncated | failed
    reason varchar,                    -- why, when status is not ok
    attempts integer not null default 1,
    run_id varchar not null,
    created_at timestamp not null default current_timestamp
);
