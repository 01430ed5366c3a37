-- The rows of a mixture's source views, in the build's seeded order, with their token
-- count when the cache has it (n_tokens null: the build tokenises the text).
-- kind sft views also hold prompt and completion (text = prompt || completion: what is counted).
-- $views: source view names, checked against the catalogue; $seed; $tokenizer: its fingerprint.
with source_rows as (
    select
        columns(lambda c: c in ('text', 'prompt', 'completion', 'passage_id', 'unit_id', 'component', 'run_ids',
                           'prompt_hashes', 'teacher_fingerprints', 'lang')),
        md5_number(text) as text_key
    from query_table($views::varchar[], true)
),

keyed as (
    select
        * exclude (text_key),
        (text_key >> 64)::ubigint as text_key_hi,
        (text_key & 18446744073709551615::uhugeint)::ubigint as text_key_lo
    from source_rows
),

counts as (
    select text_key_hi, text_key_lo, n_tokens
    from mix_token_counts
    where tokenizer_fingerprint = $tokenizer
),

final as (
    select keyed.*, counts.n_tokens
    from keyed
    left join counts using (text_key_hi, text_key_lo)
)

select *
from final
order by md5_number($seed::varchar || ':' || unit_id || ':' || component)
