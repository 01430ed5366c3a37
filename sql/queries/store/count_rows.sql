-- Rows in one table; $table is checked against the catalogue first.
select count(*) from query_table($table)
