-- D_QRA without sentiment-related items (appendix A.5): d_qra's composition with the pieces of
-- qra_without_sentiment. A sentence whose QRA items were all removed stays with nothing after it
-- (n_filtered), as do sentences without a usable QRA (n_unusable, n_missing); a passage with no
-- piece left is left out. Fails loudly when the store has no sentiment terms (`brd mix sync`
-- loads manifests/filters/sentiment.yaml) instead of filtering nothing.
-- grain: one row per passage with at least one kept QRA piece; key: passage_id
-- (unit_id = passage_id, component = 'd_qra_no_sent')
create or replace view d_qra_no_sent as
with slots as (
    select
        passage_sentences.*,
        qra.annotation_text as piece,
        coalesce(qra.status, 'missing') as status,
        case when qra.status = 'ok' then qra.annotation_run_id end as piece_run_id,
        case when qra.status = 'ok' then qra.prompt_hash end as piece_prompt_hash,
        case when qra.status = 'ok' then qra.teacher_fingerprint end as piece_teacher_fingerprint
    from passage_sentences
    left join qra_without_sentiment as qra using (text_hash)
),

grouped as (
    select
        passage_id,
        any_value(lang) as lang,
        any_value(passage_run_id) as passage_run_id,
        list_sort(list({'position': sentence_position, 'text': text, 'piece': piece, 'status': status,
                        'sentence_run_id': sentence_run_id, 'run_id': piece_run_id,
                        'prompt_hash': piece_prompt_hash, 'teacher_fingerprint': piece_teacher_fingerprint})) as sl,
        coalesce(getvariable('brd_sep'), '<sep>') as sep
    from slots
    group by passage_id
),

final as (
    select
        passage_id,
        passage_id as unit_id,
        'd_qra_no_sent' as component,
        lang,
        array_to_string(list_transform(sl, lambda s: s.text || coalesce(sep || s.piece, '')),
                        coalesce(getvariable('brd_sep'), '<sep>')) as text,
        list_sort(list_distinct(list_transform(sl, lambda s: s.sentence_run_id)
                                || list_transform(sl, lambda s: s.run_id) || [passage_run_id])) as run_ids,
        list_sort(list_distinct(list_transform(sl, lambda s: s.prompt_hash))) as prompt_hashes,
        list_sort(list_distinct(list_transform(sl, lambda s: s.teacher_fingerprint))) as teacher_fingerprints,
        len(sl)::integer as n_sentences,
        len(list_filter(sl, lambda s: s.status = 'ok'))::integer as n_annotated,
        len(list_filter(sl, lambda s: s.status = 'unusable'))::integer as n_unusable,
        len(list_filter(sl, lambda s: s.status = 'filtered'))::integer as n_filtered,
        len(list_filter(sl, lambda s: s.status = 'missing'))::integer as n_missing
    from grouped
)

select *
from final
where n_annotated > 0
  and case when (select count(*) from mix_filter_terms where filter = 'sentiment') = 0
           then error('d_qra_no_sent: no sentiment filter terms in this store; run `brd mix sync` '
                      || 'to load manifests/filters/sentiment.yaml')
           else true end
