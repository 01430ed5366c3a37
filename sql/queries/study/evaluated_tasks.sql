-- The tasks the store holds results for, for one model and one selection (the runner skips an
-- eval stage by it).
select distinct task from eval_results where model_fingerprint = $model_fingerprint and selection = $selection
