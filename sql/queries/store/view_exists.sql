select count(*) from duckdb_views() where view_name = $name and not internal
