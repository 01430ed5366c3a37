-- Rows and passages per component of one source view (a key-only pass: no text is composed).
-- $view: a view name checked against the catalogue.
select component, count(*) as n_rows, count(distinct passage_id) as n_passages
from query_table($view::varchar)
group by component
order by component
