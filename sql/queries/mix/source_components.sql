-- Rows per component of one source view, in the current passage window (a key-only pass: the
-- text is never returned). $view: a view name checked against the catalogue.
select component, count(*) as n_rows
from query_table($view::varchar)
group by component
order by component
