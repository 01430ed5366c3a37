-- D_QRA without sentiment-related items (appendix A.5): d_qra's composition with the pieces of
-- qra_without_sentiment. A sentence whose QRA items were all removed stays with nothing after it
-- (n_filtered), as do sentences without a usable QRA (n_unusable, n_missing); a passage with no
-- piece left is left out. Fails loudly when the store has no sentiment terms (every write command
-- loads manifests/filters/sentiment.yaml when it changed; `brd migrate` does on an older store)
-- instead of filtering nothing.
-- grain: one row per passage with at least one kept QRA piece; key: passage_id
-- (unit_id = passage_id, component = 'd_qra_no_sent')
create or replace view d_qra_no_sent as
with slots as (
    select
        passage_sentences.*,
        {'piece': qra.annotation_text,
         'status': coalesce(qra.status, 'missing'),
         'run_id': case when qra.status = 'ok' then qra.annotation_run_id end,
         'prompt_hash': case when qra.status = 'ok' then qra.prompt_hash end,
         'teacher_fingerprint': case when qra.status = 'ok' then qra.teacher_fingerprint end} as qra
    from passage_sentences
    left join qra_without_sentiment as qra using (text_hash)
),

grouped as (
    select
        passage_id,
        any_value(lang) as lang,
        any_value(passage_run_id) as passage_run_id,
        list_sort(list({'position': sentence_position, 'text': text, 'sentence_run_id': sentence_run_id,
                        'qra': qra})) as sl
    from slots
    group by passage_id
),

composed as (
    select
        passage_id,
        lang,
        passage_run_id,
        len(sl)::integer as n_sentences,
        list_transform(sl, lambda s: s.sentence_run_id) as sentence_run_ids,
        behaviour_passage('d_qra_no_sent', list_transform(sl, lambda s: s.text),
                          list_transform(sl, lambda s: s.qra),
                              coalesce(getvariable('brd_sep'), '<sep>')) as r
    from grouped
),

final as (
    select
        passage_id,
        passage_id as unit_id,
        r.component,
        lang,
        r.text,
        list_sort(list_distinct(sentence_run_ids || r.run_ids || [passage_run_id])) as run_ids,
        list_sort(list_distinct(r.prompt_hashes)) as prompt_hashes,
        list_sort(list_distinct(r.teacher_fingerprints)) as teacher_fingerprints,
        n_sentences,
        r.n_annotated::integer as n_annotated,
        r.n_unusable::integer as n_unusable,
        r.n_filtered::integer as n_filtered,
        r.n_missing::integer as n_missing
    from composed
)

select *
from final
where n_annotated > 0
  and case when (select count(*) from mix_filter_terms where filter = 'sentiment') = 0
           then error('d_qra_no_sent: this store has no sentiment filter terms (manifests/filters/sentiment.yaml); '
                      || 'run `brd migrate` to load them')
           else true end
