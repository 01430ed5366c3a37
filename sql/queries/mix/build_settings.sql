-- The build's DuckDB settings: a memory bound and where to spill beyond it.
set memory_limit = $memory_limit;
set temp_directory = $temp_directory;
