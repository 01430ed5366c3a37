-- A prompt template version, recorded once (its hash is its content).
insert or ignore into prompts (prompt_hash, behaviour, name, mode, parser, input, template, source_file, run_id)
values ($prompt_hash, $behaviour, $name, $mode, $parser, $input, $template, $source_file, $run_id)
