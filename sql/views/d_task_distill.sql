-- D_TASK_DISTILL: the task-distillation baseline (paper §4.1): train-split task examples with the
-- teacher's pseudo-answer instead of the gold label. The answer is the chosen `task` annotation of
-- the prompt's text_hash (chosen_annotations: the most recent ok one; pin a teacher with the
-- mixture's `teacher:`), parsed onto a candidate by the task parser; it must be one of this
-- example's candidates. prompt = the rendered Table 8 template; completion = answer_prefix || answer.
-- Examples the teacher has not answered usably are left out (see task_examples and annotations).
-- grain: one row per train example with a usable teacher answer; key: (task, example_id)
--   (passage_id = unit_id = task/example_id, component = 'd_task_distill/' || task)
create or replace view d_task_distill as
with examples as (
    select * from task_examples where split = 'train'
),

answers as (
    select
        text_hash,
        parsed ->> '$[0].answer' as answer,
        annotation_run_id,
        prompt_hash,
        teacher_fingerprint
    from chosen_annotations
    where behaviour = 'task' and usable
),

final as (
    select
        examples.prompt,
        examples.answer_prefix || answers.answer as completion,
        prompt || completion as text,
        examples.task || '/' || examples.example_id as passage_id,
        examples.task || '/' || examples.example_id as unit_id,
        'd_task_distill/' || examples.task as component,
        examples.task,
        examples.example_id,
        examples.text_hash,
        examples.gold,
        answers.answer = examples.gold as agrees_with_gold,
        list_sort(list_distinct([examples.run_id, answers.annotation_run_id])) as run_ids,
        [answers.prompt_hash] as prompt_hashes,
        [answers.teacher_fingerprint] as teacher_fingerprints
    from examples
    join answers using (text_hash)
    where list_contains(examples.candidates, answers.answer)
)

select * from final
