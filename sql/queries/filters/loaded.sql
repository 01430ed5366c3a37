-- The filter manifests loaded into the store, each with the sha256[:16] of the file it came from.
-- grain: one row per filter; key: filter
select filter, min(filter_hash) as filter_hash, count(*) as n_terms
from mix_filter_terms
group by filter
order by filter
