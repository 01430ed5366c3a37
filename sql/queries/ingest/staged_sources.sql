-- Sources this run read to the end without an error (candidates for replacing a partial ingest).
select source_id from read_parquet($files) where error is null
