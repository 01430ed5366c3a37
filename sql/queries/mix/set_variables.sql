-- The view variables a mixture sets (see the headers of sql/views): delimiter, seed, corpus and
-- pins. A null pin or corpus means "any" (the views test `getvariable(...) is null`).
set variable brd_sep = $sep;
set variable brd_seed = $seed;
set variable brd_corpus_sources = $corpus_sources::varchar[];
set variable brd_teacher = $teacher;
set variable brd_ner_prompt = $ner_prompt;
set variable brd_qra_prompt = $qra_prompt;
