-- How many passages the store holds (sizes the build's passage windows); with a mixture's
-- corpus (variable brd_corpus_sources), those of its sources only.
select count(*)
from passages
where getvariable('brd_corpus_sources') is null
   or list_contains(getvariable('brd_corpus_sources')::varchar[], split_part(passage_id, '/', 1))
