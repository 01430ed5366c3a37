-- D_SFT: the SFT baseline (paper §4.1, "SFT"): train-split task examples with their gold label.
-- prompt = the rendered Table 8 template; completion = answer_prefix || gold candidate (" Yes"),
-- so prompt || completion is the text evaluation scores. Examples without a label are left out.
-- Columns of an sft source view: prompt, completion, text (prompt || completion, what token counts
-- measure), passage_id, unit_id, component, run_ids,
-- prompt_hashes, teacher_fingerprints (empty here: no teacher is involved).
-- grain: one row per labelled train example; key: (task, example_id)
--   (passage_id = unit_id = task/example_id, component = 'd_sft/' || task)
create or replace view d_sft as
with examples as (
    select * from task_examples where split = 'train' and gold is not null
),

final as (
    select
        prompt,
        answer_prefix || gold as completion,
        prompt || completion as text,
        task || '/' || example_id as passage_id,
        task || '/' || example_id as unit_id,
        'd_sft/' || task as component,
        task,
        example_id,
        text_hash,
        [run_id] as run_ids,
        []::varchar[] as prompt_hashes,
        []::varchar[] as teacher_fingerprints
    from examples
)

select * from final
