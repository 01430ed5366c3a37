-- The teacher (model path or hub id, as given) behind each of these fingerprints ($fingerprints).
select teacher_fingerprint, min(teacher) as teacher
from annotations
where teacher_fingerprint in (select unnest($fingerprints::varchar[]))
group by teacher_fingerprint
order by teacher_fingerprint
