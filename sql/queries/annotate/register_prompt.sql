-- A prompt version, recorded once: its hash is what reaches the teacher (migration 070).
insert or ignore into prompts (
    prompt_hash, behaviour, name, mode, parser, input, template, source_file, run_id, request_hash, hash_scheme
)
values ($prompt_hash, $behaviour, $name, $mode, $parser, $input, $template, $source_file, $run_id, $prompt_hash, 'request')
