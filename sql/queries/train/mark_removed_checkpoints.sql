-- Checkpoints whose folder was rotated away (--save-total-limit) keep their row, marked removed.
-- params: train_run_id, paths still on disk (varchar[])
update train_checkpoints set removed_at = current_timestamp
where train_run_id = ? and removed_at is null and not list_contains(?, path)
