-- Quarantine rows are kept for failed files too: they say why the file was rolled back.
insert or ignore into quarantine by name
select quarantine_id, $run_id as run_id, stage, source_file, location, reason, raw
from read_parquet($files)
