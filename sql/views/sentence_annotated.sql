-- Every passage sentence with the NER and QRA piece it contributes: the chosen annotation's
-- raw_text, trimmed (chosen_annotations). *_status: ok (the piece is set) | unusable (only
-- unparsed / truncated / failed rows, or a blank raw_text) | missing (no annotation row at all).
-- grain: one row per sentence of a passage; key: (passage_id, sentence_position)
create or replace view sentence_annotated as
with ner as (
    select * from chosen_annotations where behaviour = 'ner'
),

qra as (
    select * from chosen_annotations where behaviour = 'qra'
),

final as (
    select
        passage_sentences.*,
        nullif(trim(ner.annotation_text), '') as ner_piece,
        case when ner_piece is not null then 'ok' when ner.text_hash is not null then 'unusable' else 'missing' end
            as ner_status,
        case when ner_piece is not null then ner.annotation_run_id end as ner_run_id,
        case when ner_piece is not null then ner.prompt_hash end as ner_prompt_hash,
        case when ner_piece is not null then ner.teacher_fingerprint end as ner_teacher_fingerprint,
        nullif(trim(qra.annotation_text), '') as qra_piece,
        case when qra_piece is not null then 'ok' when qra.text_hash is not null then 'unusable' else 'missing' end
            as qra_status,
        case when qra_piece is not null then qra.annotation_run_id end as qra_run_id,
        case when qra_piece is not null then qra.prompt_hash end as qra_prompt_hash,
        case when qra_piece is not null then qra.teacher_fingerprint end as qra_teacher_fingerprint
    from passage_sentences
    left join ner on ner.text_hash = passage_sentences.text_hash
    left join qra on qra.text_hash = passage_sentences.text_hash
)

select * from final
