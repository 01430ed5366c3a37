-- Rows already in the store (same doc_id) are left as they are: re-ingesting adds nothing.
insert or ignore into documents by name
select doc_id, source_id, source_file, position, line_number, lang, n_sentences, run_id
from read_parquet($files)
where source_id not in (select unnest($failed::varchar[]))
