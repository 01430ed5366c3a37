-- D_TRAIN without NER passages (the "-NER" ablation, Table 7): d_ori ∪ d_qra.
-- grain: one row per (passage, component); key: (passage_id, component)
create or replace view d_train_no_ner as
with final as (
    select *
    from passage_texts
    where component = 'd_ori' or (component = 'd_qra' and n_annotated > 0)
)

select * from final
