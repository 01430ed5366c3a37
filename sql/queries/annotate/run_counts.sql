-- The counters an annotate run recorded so far (its commits keep them current).
select row_counts from runs where run_id = $run_id
