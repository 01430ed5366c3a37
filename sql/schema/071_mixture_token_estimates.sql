-- 071: a large mixture's tokens may be estimated. `brd mix build` counts every row of a small
-- mixture; of a large one it counts a random sample, every row that could exceed the length
-- check and every row a token budget selects, and estimates the rest (manifest.json
-- `token_count`; `--count-tokens all` counts every row). `tokens` is then null and
-- `tokens_estimate` holds the estimate; for an exact count both are the count.
alter table mixtures alter column tokens drop not null;
alter table mixtures add column tokens_estimate bigint;
update mixtures set tokens_estimate = tokens;
