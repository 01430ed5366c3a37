-- A built mixture folder: what `brd train` and the study runner find by name and hash.
insert into mixtures (build_id, name, mixture_hash, out_dir, rows, tokens, tokens_estimate, manifest)
values ($build_id, $name, $mixture_hash, $out_dir, $rows, $tokens, $tokens_estimate, $manifest)
