-- The teacher fingerprints and (behaviour, prompt_hash) pairs the annotations table holds, with
-- how many ok rows each has: what a mixture may pin.
select behaviour, teacher_fingerprint, prompt_hash, count(*) filter (where status = 'ok') as n_ok
from annotations
group by behaviour, teacher_fingerprint, prompt_hash
order by behaviour, teacher_fingerprint, prompt_hash
