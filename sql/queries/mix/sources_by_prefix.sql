-- The ingested files a mixture's passages come from (a passage id starts with its source's
-- sha256[:16]); $prefixes: those prefixes.
select source_id, path, format, lang, size_bytes
from sources
where left(source_id, 16) in (select unnest($prefixes::varchar[]))
order by path, source_id
