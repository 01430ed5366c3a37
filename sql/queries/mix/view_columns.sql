-- The columns of a table or view, in order. $name: checked against the catalogue first.
select column_name
from duckdb_columns()
where table_name = $name and not internal and database_name = current_database()
order by column_index
