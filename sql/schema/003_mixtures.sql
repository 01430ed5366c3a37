-- 003: training mixtures: filter word lists (loaded from manifests/filters), the token-count
-- cache, and one row per mixture build.

-- grain: one row per (filter, field, term); key: (filter, field, term)
-- Loaded from manifests/filters/NAME.yaml by `brd mix build` / `brd mix sync`; the views that
-- apply a filter (d_qra_no_sent) read it. filter_hash says which manifest version is loaded.
create table mix_filter_terms (
    filter varchar not null,           -- the manifest's name, e.g. sentiment
    behaviour varchar not null,        -- the annotation behaviour it applies to (qra)
    field varchar not null,            -- question | answer (a QRA item's field)
    match varchar not null,            -- word (whole words, any script) | substring
    term varchar not null,             -- lower-case letters, digits, spaces, hyphens, apostrophes
    filter_hash varchar not null,      -- sha256[:16] of the manifest file
    run_id varchar not null,
    primary key (filter, field, term)
);

-- grain: one row per (tokenizer, distinct text); key: (tokenizer_fingerprint, text_key_hi, text_key_lo)
-- Token counts of mixture rows, so another mixture over the same rows tokenises nothing again.
-- No primary key: an index over millions of hashes would live in memory; the build inserts only
-- keys it did not find, under the writer lock.
create table mix_token_counts (
    tokenizer_fingerprint varchar not null,  -- sha256[:16] of the tokenizer's serialisation
    text_key_hi ubigint not null,            -- md5_number(text) >> 64
    text_key_lo ubigint not null,            -- md5_number(text) & (2^64 - 1)
    n_tokens integer not null
);

-- grain: one row per mixture build; key: build_id
create table mixtures (
    build_id varchar primary key,      -- the run_id of the `mix build` run
    name varchar not null,
    mixture_hash varchar not null,     -- sha256[:16] of the resolved manifest
    out_dir varchar not null,
    rows bigint not null,
    tokens bigint not null,
    manifest json not null,            -- the manifest.json written next to the shards
    created_at timestamp not null default current_timestamp
);
