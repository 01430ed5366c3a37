-- Load staged annotation parts, keeping one row per (text_hash, behaviour, teacher_fingerprint,
-- prompt_hash). A key that holds an answer keeps it (answers are never overwritten: a new prompt
-- or teacher is a new key); a key whose row is `failed` (the server never answered) takes the
-- new row. Loading a part twice adds nothing.
create or replace temp table _staged as
select
    text_hash, behaviour, raw_text, parsed::json as parsed, teacher, teacher_fingerprint, prompt_hash,
    sampling::json as sampling, finish_reason, prompt_tokens, completion_tokens, status, reason,
    attempts, run_id, created_at
from read_parquet($files)
qualify row_number() over (
    partition by text_hash, behaviour, teacher_fingerprint, prompt_hash order by created_at desc
) = 1;

delete from annotations as a
using _staged as s
where a.text_hash = s.text_hash
  and a.behaviour = s.behaviour
  and a.teacher_fingerprint = s.teacher_fingerprint
  and a.prompt_hash = s.prompt_hash
  and a.status = 'failed';

insert into annotations by name
select s.*
from _staged as s
anti join annotations as a
    on a.text_hash = s.text_hash
   and a.behaviour = s.behaviour
   and a.teacher_fingerprint = s.teacher_fingerprint
   and a.prompt_hash = s.prompt_hash;

drop table _staged;
