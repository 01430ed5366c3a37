-- Ids and lengths are derived here, vectorised, rather than per sentence in Python. Sentences of a
-- file that failed half-way are left out by their doc_id prefix (the source's short id).
insert into sentences by name
select
    doc_id || '/' || position as sentence_id,
    doc_id,
    position,
    text,
    text_hash,
    lang,
    length(text) as n_chars,
    split_reason,
    $run_id as run_id
from read_parquet($files)
where split_part(doc_id, '/', 1) not in (select left(unnest($failed::varchar[]), 16))
