-- Sources that an earlier run read only in part (--limit-docs), or that `--replace` replaces, and
-- that this run read again: their old rows are replaced whole by this run's, so every key stays
-- unique.
delete from sentences
where split_part(doc_id, '/', 1) in (select left(unnest($sources::varchar[]), 16));
delete from passages
where split_part(doc_id, '/', 1) in (select left(unnest($sources::varchar[]), 16));
delete from documents
where source_id in (select unnest($sources::varchar[]));
