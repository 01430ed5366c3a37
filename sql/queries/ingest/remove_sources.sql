-- `brd ingest --replace`: what else of sources ingested before ($sources) goes, in the commit's
-- transaction, besides their documents, sentences and passages (ingest/replace_partial): the
-- quarantine rows their ingest kept, and the sources row itself.
delete from quarantine as q
using sources as s
where s.source_id in (select unnest($sources::varchar[]))
  and q.run_id = s.run_id
  and q.source_file = s.path
  and q.stage in ('read', 'decode', 'segment');
delete from sources
where source_id in (select unnest($sources::varchar[]));
