-- 040: every score with its 95% interval, the examples a task left out counted by reason, the
-- lineage a report needs (data-size variants of one mixture, the model training started from),
-- and the per-word score of §3.3 beside the per-token, per-character and summed ones.
-- Methods: brd_train/eval/stats.py and docs/evaluation.md.

alter table eval_results add column ci_low double;         -- 95% interval of `accuracy`, same scale ([0, 1])
alter table eval_results add column ci_high double;
alter table eval_results add column ci_method varchar;     -- wilson | wilson-stratified | bootstrap
alter table eval_results add column skip_reasons json;     -- {reason: examples} of n_skipped
alter table eval_results add column notes json;            -- how irregular task fields were read
alter table eval_results add column train_rows bigint;     -- the mixture manifest's rows
alter table eval_results add column mixture_name varchar;
alter table eval_results add column mixture_kind varchar;  -- lm | sft
alter table eval_results add column mixture_family varchar; -- recipe hash without name and passages cap
alter table eval_results add column base_fingerprint varchar; -- the model the trained one started from

-- Rows written before 040 counted mixture rows in train_passages (a passage is one row per form):
-- keep that figure where it belongs and leave the passage count unknown.
update eval_results set train_rows = train_passages, train_passages = null;

-- Intervals for earlier rows whose credits are all 0/1: the Wilson interval from n_labelled and
-- accuracy (a task with subtasks, or fractional credits, keeps none until it is evaluated again).
update eval_results as r
set
    ci_low = greatest(0, (accuracy + 1.920729 / n_labelled
        - 1.959964 * sqrt(accuracy * (1 - accuracy) / n_labelled + 0.960365 / (n_labelled * n_labelled)))
        / (1 + 3.841459 / n_labelled)),
    ci_high = least(1, (accuracy + 1.920729 / n_labelled
        + 1.959964 * sqrt(accuracy * (1 - accuracy) / n_labelled + 0.960365 / (n_labelled * n_labelled)))
        / (1 + 3.841459 / n_labelled)),
    ci_method = 'wilson'
where accuracy is not null and n_labelled > 0
  and exists (select 1 from eval_predictions as p where p.run_id = r.run_id and p.task = r.task)
  and not exists (
      select 1 from eval_predictions as p
      where p.run_id = r.run_id and p.task = r.task and p.score is not null and p.score not in (0, 1)
  );

alter table eval_predictions alter candidates type struct(
    candidate varchar,
    n_tokens integer,
    n_chars integer,
    logprob_sum double,
    logprob_mean double,
    logprob_per_char double,
    target_score double,
    n_words integer,              -- whitespace-separated words of the candidate, at least 1
    logprob_per_word double       -- §3.3 as written: logprob_sum / n_words
)[] using list_transform(candidates, lambda c: struct_pack(
    candidate := c.candidate,
    n_tokens := c.n_tokens,
    n_chars := c.n_chars,
    logprob_sum := c.logprob_sum,
    logprob_mean := c.logprob_mean,
    logprob_per_char := c.logprob_per_char,
    target_score := c.target_score,
    n_words := greatest(1, len(regexp_split_to_array(trim(c.candidate), '\s+'))),
    logprob_per_word := c.logprob_sum / greatest(1, len(regexp_split_to_array(trim(c.candidate), '\s+')))
));
