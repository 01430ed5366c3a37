-- A run whose work now runs on a cluster: its commit job ends it (lease `cluster`: Slurm), or the
-- brd process driving it after it released the writer lock (lease `pid`: Ray).
update runs set lease = $lease, row_counts = $row_counts where run_id = $run_id
