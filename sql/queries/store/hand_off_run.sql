-- A run whose work now runs on a cluster: its commit job (or a failure) ends it.
update runs set lease = 'cluster', row_counts = $row_counts where run_id = $run_id
