-- D_TRAIN without sentiment-related QRA items (appendix A.5, Table 10 "-SentData"):
-- d_ori ∪ d_ner ∪ d_qra_no_sent.
-- grain: one row per (passage, component); key: (passage_id, component)
create or replace view d_train_no_sent as
with final as (
    select * from d_train_no_qra
    union all
    select * from d_qra_no_sent
)

select * from final
