-- Answers in the store under one teacher fingerprint.
select count(*) from annotations where teacher_fingerprint = $fingerprint
