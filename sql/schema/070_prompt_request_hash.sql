-- 070: a prompt version is what reaches the teacher. From 070 on, `prompt_hash` is the sha256 of
-- the request a prompt file makes (mode, template with its demonstrations, system turn, stop
-- strings, max_tokens: Prompt.request_identity), so the file's comments and layout do not change
-- it. Prompts registered before were keyed by the sha256 of the file's bytes: they keep that hash,
-- and their annotations stay valid for their versions. `request_hash` links each such row to the
-- request it sent; brd fills it when it next writes the store (brd_data/contracts/prompt_versions.py),
-- so an old row and a new one that sent the same request are one prompt version (annotate skips
-- what either answered; a mixture pin of either hash finds both).
alter table prompts add column request_hash varchar;   -- = prompt_hash for rows registered since 070
alter table prompts add column hash_scheme varchar;    -- file (registered before 070) | request
update prompts set hash_scheme = 'file';
