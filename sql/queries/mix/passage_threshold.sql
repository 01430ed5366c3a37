-- The data-size cut: the seeded key md5_number($seed:passage_id) of the $n-th passage of the
-- store in key order. The first $n passages (keys up to it) are the mixture's passages, so a
-- smaller $n is a subset of a larger one. With a corpus (brd_corpus_sources), of its passages.
select passage_key::varchar as threshold
from (
    select passage_key($seed, passage_id) as passage_key
    from passages
    where getvariable('brd_corpus_sources') is null
       or list_contains(getvariable('brd_corpus_sources')::varchar[], split_part(passage_id, '/', 1))
)
order by passage_key
limit 1 offset $n - 1
