-- The store's tables (the catalogue that user identifiers are checked against).
select table_name as name from duckdb_tables() where not temporary
