-- The "further training" baseline (XGLM-564M-FURTHER, Table 3): original passages only, those
-- that D_TRAIN annotates (at least one usable NER or QRA annotation), so the baseline reads the
-- same text as BRD without the teacher's behaviour. Rows are d_ori rows (component 'd_ori').
-- grain: one row per passage with a usable annotation; key: passage_id
create or replace view d_further as
with annotated as (
    select distinct passage_id
    from passage_texts
    where component in ('d_ner', 'd_qra') and n_annotated > 0
),

final as (
    select d_ori.*
    from d_ori
    semi join annotated using (passage_id)
)

select * from final
