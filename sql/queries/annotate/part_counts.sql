-- Rows per status in staged annotation parts (a commit's counters).
select status, count(*) as n, sum(completion_tokens) as completion_tokens
from read_parquet($files)
group by status
