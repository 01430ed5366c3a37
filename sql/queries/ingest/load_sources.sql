-- A re-run that reads further into a file (after --limit-docs) replaces its sources row.
insert or replace into sources by name
select source_id, path, size_bytes, format, lang, n_documents, complete, settings::json as settings, $run_id as run_id
from read_parquet($files)
where error is null
