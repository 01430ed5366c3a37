-- Passages composed as in the paper (§3.2), all three forms in one pass over the sentences:
--   d_ori: s1 <sep> s2 <sep> s3
--   d_ner: s1 <sep> NER(s1) <sep> s2 <sep> NER(s2) <sep> s3 <sep> NER(s3)
--   d_qra: s1 <sep> QRA(s1) <sep> s2 <sep> QRA(s2) <sep> s3 <sep> QRA(s3)
-- NER(s) / QRA(s) is the chosen annotation's text (sentence_annotated); each behaviour's form is
-- the macro behaviour_passage. <sep> is the delimiter: variable brd_sep, default '<sep>', inserted
-- verbatim (no spaces added). A sentence without a usable annotation keeps its place with nothing
-- after it and is counted (n_unusable, n_missing); d_ner and d_qra keep only rows with n_annotated > 0.
-- grain: one row per (passage, component) for d_ori, d_ner, d_qra; key: (passage_id, component)
create or replace view passage_texts as
with grouped as (
    select
        passage_id,
        any_value(lang) as lang,
        any_value(passage_run_id) as passage_run_id,
        -- one list per passage, sorted by position (the first field): cheaper than ordered aggregates
        list_sort(list({
            'position': sentence_position, 'text': text, 'sentence_run_id': sentence_run_id,
            'ner': ner, 'qra': qra
        })) as sl
    from sentence_annotated
    group by passage_id
),

composed as (
    select
        passage_id,
        lang,
        len(sl)::integer as n_sentences,
        list_transform(sl, lambda s: s.sentence_run_id) || [passage_run_id] as base_run_ids,
        unnest([
            {'component': 'd_ori',
             'text': array_to_string(list_transform(sl, lambda s: s.text),
                                     coalesce(getvariable('brd_sep'), '<sep>')),
             'run_ids': []::varchar[], 'prompt_hashes': []::varchar[], 'teacher_fingerprints': []::varchar[],
             'n_annotated': 0, 'n_unusable': 0, 'n_filtered': 0, 'n_missing': 0},
            behaviour_passage('d_ner', list_transform(sl, lambda s: s.text), list_transform(sl, lambda s: s.ner),
                              coalesce(getvariable('brd_sep'), '<sep>')),
            behaviour_passage('d_qra', list_transform(sl, lambda s: s.text), list_transform(sl, lambda s: s.qra),
                              coalesce(getvariable('brd_sep'), '<sep>'))
        ]) as r
    from grouped
),

final as (
    select
        passage_id,
        passage_id as unit_id,
        r.component,
        lang,
        r.text,
        list_sort(list_distinct(base_run_ids || r.run_ids)) as run_ids,
        list_sort(list_distinct(r.prompt_hashes)) as prompt_hashes,
        list_sort(list_distinct(r.teacher_fingerprints)) as teacher_fingerprints,
        n_sentences,
        r.n_annotated::integer as n_annotated,
        r.n_unusable::integer as n_unusable,
        r.n_filtered::integer as n_filtered,
        r.n_missing::integer as n_missing
    from composed
)

select * from final
