-- Checkpoints saved again at a step whose folder had been removed (a resume after a save that a kill
-- cut short redoes that step): the row counts as present again.
-- params: train_run_id, paths on disk (varchar[])
update train_checkpoints set removed_at = null
where train_run_id = ? and removed_at is not null and list_contains(?, path)
