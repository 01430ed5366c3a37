-- The tasks the store holds layer-wise probes for, for one model (a study skips a probe stage by it).
select distinct task from eval_probes where model_fingerprint = $model_fingerprint
