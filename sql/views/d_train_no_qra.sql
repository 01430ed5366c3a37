-- D_TRAIN without QRA passages (the "-QRA" ablation, Table 7): d_ori ∪ d_ner.
-- grain: one row per (passage, component); key: (passage_id, component)
create or replace view d_train_no_qra as
with final as (
    select *
    from passage_texts
    where component = 'd_ori' or (component = 'd_ner' and n_annotated > 0)
)

select * from final
