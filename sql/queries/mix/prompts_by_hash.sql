-- The prompt templates with these hashes ($hashes), for a dataset card.
select prompt_hash, behaviour, name, template, source_file
from prompts
where prompt_hash in (select unnest($hashes::varchar[]))
order by prompt_hash
