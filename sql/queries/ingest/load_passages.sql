insert into passages by name
select
    doc_id || '/p' || position as passage_id,
    doc_id,
    position,
    list_transform(range(first, first + n_sentences), lambda i: doc_id || '/' || i) as sentence_ids,
    n_sentences,
    $run_id as run_id
from read_parquet($files)
where split_part(doc_id, '/', 1) not in (select left(unnest($failed::varchar[]), 16))
