-- A running annotate run's counters, updated with every commit.
update runs set row_counts = $counts::json where run_id = $run_id
