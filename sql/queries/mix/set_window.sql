-- The passage window a build composes now (see passage_sentences): seeded keys in [lo, hi].
set variable brd_passage_key_lo = $lo::uhugeint;
set variable brd_passage_key_hi = $hi::uhugeint;
