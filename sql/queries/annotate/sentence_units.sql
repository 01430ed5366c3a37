-- The unique sentences a run considers for one prompt and teacher, in corpus order (first
-- occurrence), and whether each is answered already. $limit >= 0 keeps the first $limit unique
-- sentences of the corpus (so `--limit 5` twice reads the same 5); -1 keeps all. $langs (a list,
-- empty or NULL: every language) keeps the sentences of those `sentences.lang` codes; $passages
-- keeps those of a seeded passage selection (below). A sentence
-- whose row is `failed` (the server never answered) counts as not answered. `input` is only
-- returned for sentences still to annotate.
with selected as (
    -- the passage selection ($passages >= 0): the $passages passages with the smallest seeded key
    -- passage_key($seed, passage_id) among those of the sources $sources (source_id[:16]
    -- prefixes of passage_id; empty or NULL: every source). -1: every passage.
    select unnest(sentence_ids) as sentence_id
    from (
        select sentence_ids
        from passages
        where $passages >= 0
          and (coalesce(len($sources), 0) = 0
               or list_contains($sources::varchar[], split_part(passage_id, '/', 1)))
        qualify row_number() over (order by passage_key($seed, passage_id)) <= $passages
    )
),
units as (
    select
        text_hash,
        arg_min(text, struct_pack(doc_id := doc_id, position := position)) as text,
        min(struct_pack(doc_id := doc_id, position := position)) as first_at
    from sentences
    where (coalesce(len($langs), 0) = 0 or list_contains($langs::varchar[], lang))
      and ($passages < 0 or sentence_id in (select sentence_id from selected))
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
