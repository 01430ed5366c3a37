-- The languages of the store's sentences (to check --lang against).
select distinct lang from sentences order by 1
