-- The store's views (the catalogue that user identifiers are checked against).
select view_name as name from duckdb_views() where not internal and not temporary
