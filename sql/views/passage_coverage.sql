-- How far the teacher's annotations cover each passage, and whether the passage is in d_ner /
-- d_qra / d_qra_no_sent: the counts behind the rule "a sentence without a usable annotation stays
-- without one; a passage without any is left out". (d_qra_no_sent rows need the sentiment terms.)
-- grain: one row per (passage, view) for d_ner, d_qra and d_qra_no_sent; key: (passage_id, view_name)
create or replace view passage_coverage as
with composed as (
    select passage_id, component as view_name, n_sentences, n_annotated, n_unusable, n_filtered, n_missing
    from passage_texts
    where component in ('d_ner', 'd_qra')
),

no_sent as (
    select
        passage_id,
        'd_qra_no_sent' as view_name,
        count(*)::integer as n_sentences,
        count(*) filter (where qra.status = 'ok')::integer as n_annotated,
        count(*) filter (where qra.status = 'unusable')::integer as n_unusable,
        count(*) filter (where qra.status = 'filtered')::integer as n_filtered,
        count(*) filter (where qra.status is null)::integer as n_missing
    from passage_sentences
    left join qra_without_sentiment as qra using (text_hash)
    group by passage_id
),

final as (
    select *, n_annotated > 0 as included from composed
    union all
    select *, n_annotated > 0 as included from no_sent
)

select * from final
