insert or ignore into passages by name
select passage_id, doc_id, position, sentence_ids, n_sentences, run_id
from read_parquet($files)
where source_id not in (select unnest($failed::varchar[]))
