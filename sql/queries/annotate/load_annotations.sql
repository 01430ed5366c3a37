-- Load staged annotation parts. A key that holds an answer keeps it (answers are never
-- overwritten: a new prompt or teacher is a new key); a key whose row is `failed` (the server
-- never answered) takes the new row.
with staged as (
    select *
    from read_parquet($files)
    qualify row_number() over (
        partition by text_hash, behaviour, teacher_fingerprint, prompt_hash order by created_at desc
    ) = 1
)
insert into annotations by name
select
    text_hash, behaviour, raw_text, parsed::json as parsed, teacher, teacher_fingerprint, prompt_hash,
    sampling::json as sampling, finish_reason, prompt_tokens, completion_tokens, status, reason,
    attempts, run_id, created_at
from staged
on conflict do update set
    raw_text = excluded.raw_text,
    parsed = excluded.parsed,
    teacher = excluded.teacher,
    sampling = excluded.sampling,
    finish_reason = excluded.finish_reason,
    prompt_tokens = excluded.prompt_tokens,
    completion_tokens = excluded.completion_tokens,
    status = excluded.status,
    reason = excluded.reason,
    attempts = excluded.attempts,
    run_id = excluded.run_id,
    created_at = excluded.created_at
where annotations.status = 'failed'
