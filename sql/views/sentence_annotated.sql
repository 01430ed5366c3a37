-- Every passage sentence with the slot each behaviour contributes (macro annotation_slot): the
-- chosen annotation's text, trimmed, with its status and lineage. Columns `ner` and `qra` are
-- structs {piece, status, run_id, prompt_hash, teacher_fingerprint}; query them as `ner.piece`.
-- A new behaviour is one more column here and one more behaviour_passage in passage_texts.
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
        annotation_slot(ner.annotation_text, ner.text_hash, ner.annotation_run_id, ner.prompt_hash,
                        ner.teacher_fingerprint) as ner,
        annotation_slot(qra.annotation_text, qra.text_hash, qra.annotation_run_id, qra.prompt_hash,
                        qra.teacher_fingerprint) as qra
    from passage_sentences
    left join ner on ner.text_hash = passage_sentences.text_hash
    left join qra on qra.text_hash = passage_sentences.text_hash
)

select * from final
