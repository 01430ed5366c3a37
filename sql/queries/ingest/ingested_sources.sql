-- Inputs the store already holds in full, with the run that ingested them and the settings that
-- shaped their rows (NULL before migration 060).
select source_id, path, n_documents, run_id, lang, settings
from sources
where complete and source_id in (select unnest($source_ids::varchar[]))
