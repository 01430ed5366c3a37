-- The commit only streams Parquet parts into tables: a small buffer pool keeps its memory flat.
set memory_limit = $memory_limit
