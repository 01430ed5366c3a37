-- Quarantine by stage and reason
select stage, regexp_replace(reason, '[0-9]+', 'N', 'g') as reason_kind, count(*) as n
from quarantine
group by all
order by n desc
