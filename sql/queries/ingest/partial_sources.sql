-- Sources of this run that the store holds in part from an earlier run.
select source_id
from sources
where not complete and source_id in (select unnest($sources::varchar[]))
