-- The students the store holds cross entropies for against one teacher (a study skips its Table 5
-- stage when every student is there).
select distinct model_fingerprint from eval_cross_entropy where teacher_fingerprint = $teacher_fingerprint
