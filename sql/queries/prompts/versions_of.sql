-- Every stored prompt hash that is the same prompt version as $prompt_hash (same request), itself included.
select $prompt_hash as prompt_hash
union
select prompt_hash from prompts where same_prompt_version(prompt_hash, $prompt_hash)
