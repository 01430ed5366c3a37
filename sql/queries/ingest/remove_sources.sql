-- `brd ingest --replace`: the rows of sources ingested before ($sources), removed in the commit's
-- transaction just before this run's rows of them are loaded: documents, sentences, passages,
-- the quarantine rows their ingest kept, and the sources row itself.
delete from quarantine as q
using sources as s
where s.source_id in (select unnest($sources::varchar[]))
  and q.run_id = s.run_id
  and q.source_file = s.path
  and q.stage in ('read', 'decode', 'segment');
delete from sentences
where split_part(doc_id, '/', 1) in (select left(unnest($sources::varchar[]), 16));
delete from passages
where split_part(doc_id, '/', 1) in (select left(unnest($sources::varchar[]), 16));
delete from documents
where source_id in (select unnest($sources::varchar[]));
delete from sources
where source_id in (select unnest($sources::varchar[]));
