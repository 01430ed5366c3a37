-- The data-size cut: the seeded key of the $n-th passage (in key order) among the passages of
-- the source views, and how many passages they hold. Passages with a key up to the threshold are
-- the first $n; the build composes only those (variables brd_passage_key_lo / _hi).
with keys as (
    select distinct md5_number($seed::varchar || ':' || passage_id) as passage_key
    from query_table($views::varchar[], true)
)

select
    (select passage_key from keys order by passage_key limit 1 offset $n - 1)::varchar as threshold,
    (select count(*) from keys) as n_passages
