-- Inputs the store already holds in full, with the run that ingested them.
select source_id, path, n_documents, run_id
from sources
where complete and source_id in (select unnest($source_ids::varchar[]))
