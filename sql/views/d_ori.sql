-- D_ORI (§3.2): original passages, s1 <sep> s2 <sep> s3 (composed in passage_texts).
-- Every d_* view has these columns: passage_id, unit_id, component, lang, text, run_ids,
-- prompt_hashes, teacher_fingerprints, n_sentences, n_annotated, n_unusable, n_filtered, n_missing.
-- grain: one row per passage; key: passage_id (unit_id = passage_id, component = 'd_ori')
create or replace view d_ori as
with final as (
    select * from passage_texts where component = 'd_ori'
)

select * from final
