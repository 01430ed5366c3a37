-- Record progress on a training run: status, last step and loss, and the command working on it.
-- params: status, last_step, final_loss, final_checkpoint, loss_plot, error, finished (bool),
--         max_steps, config (json), run_id, run_id, train_run_id
update train_runs set
    status = ?,
    last_step = ?,
    final_loss = coalesce(?, final_loss),
    final_checkpoint = coalesce(?, final_checkpoint),
    loss_plot = coalesce(?, loss_plot),
    error = ?,
    finished_at = case when ? then current_timestamp else null end,
    max_steps = ?,
    config = ?,
    updated_at = current_timestamp,
    run_ids = case when list_contains(run_ids, ?) then run_ids else list_append(run_ids, ?) end
where train_run_id = ?
