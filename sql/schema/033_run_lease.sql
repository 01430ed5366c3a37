-- 033: how a run holds the store while it runs, so a dead one can be told from a live one.
--   lock:    it holds the writer lock from start to end (ingest, annotate, mix build, ...): when
--            another writer gets the lock, the run's process is gone.
--   pid:     it takes the lock only for short windows (train, eval): it is gone when its process
--            is no longer alive on its host.
--   cluster: its work was handed to Slurm or Ray; its commit job (or a failure) ends it.
-- Runs left `running` by a dead process are closed as `interrupted` by the next writer, keeping
-- what they committed. NULL (runs recorded before 033) is treated as `pid`.
alter table runs add column lease varchar;
