-- Every ingested source, for a mixture's `corpus:` filter and an annotation's passage selection
-- (matched in Python by path pattern or ingest run).
select source_id, path, run_id
from sources
order by path, source_id
