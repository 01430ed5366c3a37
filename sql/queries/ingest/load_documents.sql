-- Rows of files that failed half-way ($failed) are left out: a file lands whole or not at all.
insert into documents by name
select doc_id, source_id, source_file, position, line_number, lang, n_sentences, $run_id as run_id
from read_parquet($files)
where source_id not in (select unnest($failed::varchar[]))
