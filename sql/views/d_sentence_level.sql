-- Sentence-level training data (§5.3, Table 6): every sentence is its own unit, not composed into
-- passages: alone (component 'sentence_ori'), with its NER ('sentence_ner': s <sep> NER(s)) and
-- with its QRA ('sentence_qra': s <sep> QRA(s)), in a seeded shuffled order (variable brd_seed,
-- default 0: the key a mixture build orders rows by within a window). A sentence without a usable
-- annotation has no unit for that behaviour (see passage_coverage for the counts).
-- grain: one row per (sentence of a passage, component); key: (unit_id, component), unit_id = sentence_id
create or replace view d_sentence_level as
with units as (
    select
        passage_id,
        sentence_id as unit_id,
        lang,
        [sentence_run_id, passage_run_id] as base_run_ids,
        unnest(list_filter([
            {'component': 'sentence_ori', 'text': text, 'run_id': null::varchar,
             'prompt_hash': null::varchar, 'teacher_fingerprint': null::varchar, 'ok': true},
            behaviour_sentence('sentence_ner', text, ner, coalesce(getvariable('brd_sep'), '<sep>')),
            behaviour_sentence('sentence_qra', text, qra, coalesce(getvariable('brd_sep'), '<sep>'))
        ], lambda u: u.ok)) as u
    from sentence_annotated
),

final as (
    select
        passage_id,
        unit_id,
        u.component,
        lang,
        u.text,
        list_sort(list_distinct(base_run_ids || [u.run_id])) as run_ids,
        list_distinct([u.prompt_hash]) as prompt_hashes,
        list_distinct([u.teacher_fingerprint]) as teacher_fingerprints,
        1 as n_sentences,
        case when u.component = 'sentence_ori' then 0 else 1 end as n_annotated,
        0 as n_unusable,
        0 as n_filtered,
        0 as n_missing
    from units
)

select *
from final
order by md5_number(coalesce(getvariable('brd_seed'), 0)::varchar || ':' || unit_id || ':' || component)
