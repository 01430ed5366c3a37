-- passage_key(seed, passage_id): the seeded key that orders passages (uhugeint). The N passages
-- with the smallest keys are a study's passage selection: `brd annotate --passages N` annotates
-- their sentences, and `brd mix build --passages N` (a mixture's `passages: N`) builds from them,
-- so with the same seed every mixture of a study reuses the selection its annotation made, and a
-- smaller N is a subset of a larger one (the data-size curve).
create or replace macro passage_key(seed, passage_id) as md5_number(seed::varchar || ':' || passage_id);
