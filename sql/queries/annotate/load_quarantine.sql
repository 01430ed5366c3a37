-- Bad teacher outputs (unparsed, truncated, failed) also go to quarantine, with the raw text.
insert or ignore into quarantine by name
select
    quarantine_id, run_id, 'annotate' as stage, prompt_file as source_file, location,
    quarantine_reason as reason, encode(raw_text) as raw, created_at
from read_parquet($files)
where quarantine_id is not null
