-- The unique task prompts a run considers for one prompt file and teacher (input: task), in load
-- order (task, split, position of the first example with that prompt), and whether each is
-- answered already (as for sentences: a `failed` row counts as not answered). The unit is the
-- rendered Table 8 prompt: unit_id is its text_hash, so one prompt shared by two examples is
-- asked once. `candidates`: the answers the task parser accepts. $limit >= 0 keeps the first
-- $limit unique prompts; -1 keeps all. `input` is only returned for prompts still to annotate.
with units as (
    select
        text_hash,
        arg_min({'prompt': prompt, 'candidates': candidates},
                struct_pack(task := task, split := split, position := position)) as unit,
        row_number() over (order by min(struct_pack(task := task, split := split, position := position))) as n
    from task_examples
    group by text_hash
    qualify $limit < 0 or n <= $limit
),

final as (
    select
        text_hash as unit_id,
        exists (
            select 1 from annotations as a
            where a.text_hash = units.text_hash and a.behaviour = $behaviour
              and a.teacher_fingerprint = $fingerprint
              and same_prompt_version(a.prompt_hash, $prompt_hash) and a.status <> 'failed'
        ) as answered,
        unit.candidates as candidates,
        n,
        unit.prompt as prompt
    from units
)

select unit_id, answered, case when not answered then prompt end as input, candidates from final order by n
