-- 001: runs, ingested sources, documents, sentences, passages and quarantine.
-- These tables are a public contract: users query them. Migrations are append-only; change the
-- schema with a new NNN_name.sql file, never by editing an applied one.

-- grain: one row per command that wrote the store; key: run_id
create table runs (
    run_id varchar primary key,
    command varchar not null,          -- ingest, annotate, mix build, train, eval, ...
    config json,                       -- the resolved configuration
    code_version varchar not null,     -- brd version + git commit
    inputs json,                       -- [{path, size, sha256}, ...]
    started_at timestamp not null,
    finished_at timestamp,
    status varchar not null,           -- running | succeeded | failed
    row_counts json,                   -- {table_or_counter: n, ...}
    error varchar,
    pid integer,
    host varchar
);

-- grain: one row per distinct input file content; key: source_id (sha256 of the bytes)
create table sources (
    source_id varchar primary key,
    path varchar not null,
    size_bytes bigint not null,
    format varchar not null,           -- cc100 | jsonl | parquet
    lang varchar,
    n_documents bigint not null,
    complete boolean not null,         -- false when --limit-docs stopped inside the file
    run_id varchar not null
);

-- The large tables (documents, sentences, passages) declare no PRIMARY KEY: a DuckDB index must
-- fit in memory, and ingest memory must stay flat as the corpus grows. Their keys are
-- deterministic and kept unique by the commit (complete inputs are never re-read; a partly read
-- one is replaced whole); tests check the grain.

-- grain: one row per document; key: doc_id
create table documents (
    doc_id varchar not null,        -- {source_id[:16]}/{position}
    source_id varchar not null,
    source_file varchar not null,
    position bigint not null,          -- document index within the file, from 0
    line_number bigint,                -- 1-based line where the document starts (cc100, jsonl)
    lang varchar,
    n_sentences integer not null,
    run_id varchar not null
);

-- grain: one row per sentence occurrence; key: sentence_id
create table sentences (
    sentence_id varchar not null,      -- {doc_id}/{position}
    doc_id varchar not null,
    position integer not null,         -- sentence index within the document, from 0
    text varchar not null,
    text_hash varchar not null,        -- blake2b-64 of the normalised text: the annotation key
    lang varchar,
    n_chars integer not null,
    split_reason varchar,              -- set when a sentence was cut at the length bound
    run_id varchar not null
);

-- grain: one row per passage of N consecutive sentences of one document; key: passage_id
create table passages (
    passage_id varchar not null,       -- {doc_id}/p{position}
    doc_id varchar not null,
    position integer not null,         -- passage index within the document, from 0
    sentence_ids varchar[] not null,   -- in document order
    n_sentences integer not null,
    run_id varchar not null
);

-- grain: one row per thing that could not be processed; key: quarantine_id
create table quarantine (
    quarantine_id varchar primary key, -- hash of (stage, source, location, reason): re-runs add nothing
    run_id varchar not null,
    stage varchar not null,            -- read | decode | segment | annotate | ...
    source_file varchar,
    location varchar,                  -- "line 12", "byte 40960", "text_hash 9f2c...", ...
    reason varchar not null,
    raw blob,                          -- the bytes as found, so nothing is lost
    created_at timestamp not null default current_timestamp
);
