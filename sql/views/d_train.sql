-- D_TRAIN (§3.2): the original, NER and QRA passages together (d_ori ∪ d_ner ∪ d_qra); the
-- `component` column says which. Read from passage_texts in one pass (a union of the three views
-- would compose every passage three times).
-- grain: one row per (passage, component); key: (passage_id, component)
create or replace view d_train as
with final as (
    select *
    from passage_texts
    where component = 'd_ori' or n_annotated > 0
)

select * from final
