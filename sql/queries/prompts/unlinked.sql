-- Prompt rows registered before migration 070 (keyed by the sha256 of the file's bytes) whose
-- request is not linked yet: their stored file text is parsed again to link it.
select prompt_hash, name, template
from prompts
where request_hash is null
order by prompt_hash
