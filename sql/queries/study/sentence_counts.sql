-- The store's sentences for the plan: occurrences, unique texts, mean length in characters.
select count(*), count(distinct text_hash), coalesce(avg(n_chars), 0) from sentences
