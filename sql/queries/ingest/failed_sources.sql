-- Sources whose file could not be read to the end: every row from them is rolled back.
select source_id, path, error
from read_parquet($files)
where error is not null
