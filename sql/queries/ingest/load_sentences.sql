insert or ignore into sentences by name
select sentence_id, doc_id, position, text, text_hash, lang, n_chars, split_reason, run_id
from read_parquet($files)
where source_id not in (select unnest($failed::varchar[]))
