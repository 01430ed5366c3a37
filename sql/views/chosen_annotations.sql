-- The one annotation the d_* views use for a sentence text and behaviour.
--
-- Pins (DuckDB variables; unset = any): brd_teacher (a teacher_fingerprint), brd_ner_prompt and
-- brd_qra_prompt (the prompt_hash for that behaviour; also rows of the same prompt version under
-- another hash: same_prompt_version, migration 070). Among the pinned rows the view takes the
-- most recent one with status 'ok' and a non-blank raw_text; ties on created_at go to the larger
-- (teacher_fingerprint, prompt_hash), so the choice is deterministic. A text whose pinned rows
-- are all unparsed / truncated / failed has `usable = false`: the d_* views keep the sentence
-- without that annotation and count it (n_unusable). A text with no pinned row is not here at
-- all (n_missing). annotation_text is raw_text as stored; the views trim it, and treat a blank
-- one as unusable.
--
-- When a behaviour has one (teacher, prompt) version among the pinned rows (the usual case, and
-- always when both pins are set), its rows stream through without grouping; otherwise each text
-- is resolved by (created_at, teacher, prompt).
--
-- grain: one row per (text_hash, behaviour) with at least one pinned annotation;
-- key: (text_hash, behaviour)
create or replace view chosen_annotations as
with pinned as not materialized (
    select *
    from annotations
    where (getvariable('brd_teacher') is null or teacher_fingerprint = getvariable('brd_teacher'))
      and (behaviour <> 'ner' or getvariable('brd_ner_prompt') is null
           or same_prompt_version(prompt_hash, getvariable('brd_ner_prompt')))
      and (behaviour <> 'qra' or getvariable('brd_qra_prompt') is null
           or same_prompt_version(prompt_hash, getvariable('brd_qra_prompt')))
),

versions as (
    select
        behaviour,
        min(teacher_fingerprint) = max(teacher_fingerprint) and min(prompt_hash) = max(prompt_hash) as is_single
    from pinned
    group by behaviour
),

single as (
    select
        pinned.text_hash,
        pinned.behaviour,
        pinned.status = 'ok' and pinned.raw_text is not null as usable,
        pinned.raw_text,
        pinned.parsed,
        pinned.run_id,
        pinned.prompt_hash,
        pinned.teacher_fingerprint,
        1 as n_rows
    from pinned
    join versions using (behaviour)
    where versions.is_single
),

-- (created_at, teacher_fingerprint, prompt_hash) as one sortable string; unique within a
-- (text_hash, behaviour) because those five columns are the table's key
candidates as not materialized (
    select
        pinned.*,
        pinned.status = 'ok' and trim(coalesce(pinned.raw_text, '')) <> '' as is_usable,
        strftime(created_at, '%Y%m%d%H%M%S%f') || teacher_fingerprint || '/' || prompt_hash as pick_key
    from pinned
    join versions using (behaviour)
    where not versions.is_single
),

winners as (
    select
        text_hash,
        behaviour,
        count(*) as n_rows,
        max(pick_key) filter (where is_usable) as pick_key
    from candidates
    group by text_hash, behaviour
),

resolved as (
    select
        winners.text_hash,
        winners.behaviour,
        winners.pick_key is not null as usable,
        candidates.raw_text,
        candidates.parsed,
        candidates.run_id,
        candidates.prompt_hash,
        candidates.teacher_fingerprint,
        winners.n_rows
    from winners
    left join candidates
        on candidates.text_hash = winners.text_hash
        and candidates.behaviour = winners.behaviour
        and candidates.pick_key = winners.pick_key
),

final as (
    select
        text_hash,
        behaviour,
        usable,
        case when usable then raw_text end as annotation_text,
        case when usable then parsed end as parsed,
        case when usable then run_id end as annotation_run_id,
        case when usable then prompt_hash end as prompt_hash,
        case when usable then teacher_fingerprint end as teacher_fingerprint,
        n_rows
    from (select * from single union all select * from resolved)
)

select * from final
