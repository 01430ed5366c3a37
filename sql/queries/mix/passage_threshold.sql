-- The data-size cut: the seeded key md5_number($seed:passage_id) of the $n-th passage of the
-- store in key order. The first $n passages (keys up to it) are the mixture's passages, so a
-- smaller $n is a subset of a larger one.
select passage_key::varchar as threshold
from (select md5_number($seed::varchar || ':' || passage_id) as passage_key from passages)
order by passage_key
limit 1 offset $n - 1
