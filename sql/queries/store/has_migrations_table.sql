select count(*) from duckdb_tables() where table_name = 'schema_migrations'
