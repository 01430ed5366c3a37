-- D_QRA (§3.2): s1 <sep> QRA(s1) <sep> s2 <sep> QRA(s2) ..., QRA(s) being the teacher's raw_text
-- (composed in passage_texts). A sentence without a usable annotation stays with none after it
-- (counted in n_unusable / n_missing); a passage with no usable annotation at all is left out
-- (see passage_coverage).
-- grain: one row per passage with at least one usable QRA annotation; key: passage_id
-- (unit_id = passage_id, component = 'd_qra')
create or replace view d_qra as
with final as (
    select * from passage_texts where component = 'd_qra' and n_annotated > 0
)

select * from final
