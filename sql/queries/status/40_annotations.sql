-- Annotations per behaviour, prompt and teacher
-- annotated: rows with a teacher answer (any status but failed); ok: parsed answers;
-- quarantined: unparsed, truncated or failed (also in `quarantine`, stage annotate);
-- pending: unique sentences this prompt and teacher have not answered yet (sentence prompts).
with unique_sentences as (
    select count(distinct text_hash) as n_units from sentences
),
per_key as (
    select
        behaviour,
        prompt_hash,
        teacher_fingerprint,
        any_value(teacher) as teacher,
        count(*) filter (where status <> 'failed') as annotated,
        count(*) filter (where status = 'ok') as ok,
        count(*) filter (where status <> 'ok') as quarantined,
        count(*) filter (where status = 'failed') as failed
    from annotations
    group by behaviour, prompt_hash, teacher_fingerprint
),
final as (
    select
        k.behaviour,
        coalesce(p.name, k.prompt_hash) as prompt,
        k.annotated,
        k.ok,
        k.quarantined,
        case when coalesce(p.input, 'sentence') = 'sentence'
             then greatest(u.n_units - k.annotated, 0) end as pending,
        regexp_extract(k.teacher, '[^/]+$') as teacher,
        k.teacher_fingerprint as teacher_fp
    from per_key as k
    cross join unique_sentences as u
    left join prompts as p using (prompt_hash)
)
select * from final order by behaviour, prompt, teacher_fp
