-- The unique sentences a run considers for one prompt and teacher, in corpus order (first
-- occurrence), and whether each is answered already. $limit >= 0 keeps the first $limit unique
-- sentences of the corpus (so `--limit 5` twice reads the same 5); -1 keeps all. $langs (a list,
-- empty or NULL: every language) keeps the sentences of those `sentences.lang` codes. A sentence
-- whose row is `failed` (the server never answered) counts as not answered. `input` is only
-- returned for sentences still to annotate.
with units as (
    select
        text_hash,
        arg_min(text, struct_pack(doc_id := doc_id, position := position)) as text,
        min(struct_pack(doc_id := doc_id, position := position)) as first_at
    from sentences
    where coalesce(len($langs), 0) = 0 or list_contains($langs::varchar[], lang)
    group by text_hash
),
considered as (
    select text_hash, text, row_number() over (order by first_at) as n
    from units
    qualify $limit < 0 or n <= $limit
),
answered as (
    select text_hash
    from annotations
    where behaviour = $behaviour
      and teacher_fingerprint = $fingerprint
      and same_prompt_version(prompt_hash, $prompt_hash)  -- also rows under its pre-070 file hash
      and status <> 'failed'
),
final as (
    select
        c.text_hash as unit_id,
        a.text_hash is not null as answered,
        case when a.text_hash is null then c.text end as input,
        c.n
    from considered as c
    left join answered as a using (text_hash)
)
select unit_id, answered, input from final order by n
