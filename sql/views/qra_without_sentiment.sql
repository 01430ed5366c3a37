-- QRA annotations with the paper's sentiment filter applied (appendix A.5): a question-answer
-- item is deleted when its question holds a `question` term (questions about the attitude) or
-- its answer holds an `answer` term (positive / negative / neutral words). The terms and their
-- match mode live in manifests/filters/sentiment.yaml, loaded into mix_filter_terms:
--   word:      whole words or phrases, case-insensitive, in any script; the text and the term are
--              both lower-cased and split at every character that is not a letter or digit;
--   substring: case-insensitive anywhere (for scripts written without spaces).
-- A text whose items all survive keeps the teacher's raw_text unchanged. When some are deleted,
-- the rest are written back in the teacher's format ("Question: ... Answer: ..."); when all are,
-- the text has no QRA piece (status 'filtered', counted by d_qra_no_sent as n_filtered). A usable
-- QRA whose `parsed` holds no items is tested as a whole: raw_text against both term lists.
-- status: ok (annotation_text is set) | filtered (every item removed) | unusable (no usable QRA).
-- grain: one row per text_hash with a QRA row in chosen_annotations; key: text_hash
create or replace view qra_without_sentiment as
with qra as (
    select
        text_hash,
        nullif(trim(annotation_text), '') is not null as usable,  -- as in sentence_annotated
        nullif(trim(annotation_text), '') as annotation_text,
        parsed,
        annotation_run_id,
        prompt_hash,
        teacher_fingerprint
    from chosen_annotations
    where behaviour = 'qra'
),

terms as (
    select
        coalesce(list(' ' || term || ' ') filter (where field = 'question' and match = 'word'), []) as q_words,
        coalesce(list(term) filter (where field = 'question' and match = 'substring'), []) as q_subs,
        coalesce(list(' ' || term || ' ') filter (where field = 'answer' and match = 'word'), []) as a_words,
        coalesce(list(term) filter (where field = 'answer' and match = 'substring'), []) as a_subs
    from mix_filter_terms
    where filter = 'sentiment' and behaviour = 'qra'
),

items as (
    select
        qra.*,
        terms.*,
        coalesce(
            try(from_json(qra.parsed, '[{"question": "VARCHAR", "answer": "VARCHAR"}]')), []
        ) as qa_items
    from qra
    cross join terms
),

-- each item as (words of the question, lower-cased question, words of the answer, lower-cased answer)
normalised as (
    select
        *,
        list_transform(qa_items, lambda it: {
            'item': it,
            'qw': ' ' || array_to_string(string_split_regex(lower(coalesce(it.question, '')), '[^\p{L}\p{N}]+'), ' ') || ' ',
            'ql': lower(coalesce(it.question, '')),
            'aw': ' ' || array_to_string(string_split_regex(lower(coalesce(it.answer, '')), '[^\p{L}\p{N}]+'), ' ') || ' ',
            'al': lower(coalesce(it.answer, ''))
        }) as checks,
        ' ' || array_to_string(string_split_regex(lower(coalesce(annotation_text, '')), '[^\p{L}\p{N}]+'), ' ') || ' '
            as whole_words,
        lower(coalesce(annotation_text, '')) as whole_lower
    from items
),

judged as (
    select
        *,
        list_transform(
            list_filter(checks, lambda c: not (
                list_bool_or(list_transform(q_words, lambda t: contains(c.qw, t)))
                or list_bool_or(list_transform(q_subs, lambda t: contains(c.ql, t)))
                or list_bool_or(list_transform(a_words, lambda t: contains(c.aw, t)))
                or list_bool_or(list_transform(a_subs, lambda t: contains(c.al, t))))),
            lambda c: c.item) as kept_items,
        list_bool_or(list_transform(q_words || a_words, lambda t: contains(whole_words, t)))
            or list_bool_or(list_transform(q_subs || a_subs, lambda t: contains(whole_lower, t)))
            as whole_text_matches
    from normalised
),

final as (
    select
        text_hash,
        usable,
        case
            when not usable then null
            when len(qa_items) = 0 then (case when coalesce(whole_text_matches, false) then null else annotation_text end)
            when len(kept_items) = len(qa_items) then annotation_text
            when len(kept_items) = 0 then null
            else array_to_string(list_transform(kept_items, lambda it:
                'Question: ' || coalesce(it.question, '') || ' Answer: ' || coalesce(it.answer, '')), ' ')
        end as annotation_text,
        case
            when not usable then 0
            when len(qa_items) = 0 then (case when coalesce(whole_text_matches, false) then 1 else 0 end)
            else len(qa_items) - len(kept_items)
        end as n_items_removed,
        annotation_run_id,
        prompt_hash,
        teacher_fingerprint
    from judged
)

select
    *,
    case when annotation_text is not null then 'ok' when usable then 'filtered' else 'unusable' end as status
from final
