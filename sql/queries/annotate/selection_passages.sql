-- How many passages a passage selection can draw from: those of the sources $sources
-- (source_id[:16] prefixes of passage_id; empty or NULL: every source).
select count(*)
from passages
where coalesce(len($sources), 0) = 0 or list_contains($sources::varchar[], split_part(passage_id, '/', 1))
