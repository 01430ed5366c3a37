-- Link a prompt row to the request it sent ($request_hash; its own hash when the text no longer parses).
update prompts set request_hash = $request_hash where prompt_hash = $prompt_hash and request_hash is null
