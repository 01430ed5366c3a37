-- What one behaviour contributes to one sentence of a passage, from its chosen annotation
-- (chosen_annotations; all arguments null when the sentence has none):
--   piece:  the annotation's text, trimmed; null when there is no usable one;
--   status: ok (piece is set) | unusable (only unparsed / truncated / failed rows, or a blank
--           text) | missing (no annotation row at all);
--   run_id, prompt_hash, teacher_fingerprint: the lineage of the piece (null without one).
-- Every behaviour's slot is this one macro: sentence_annotated calls it once per behaviour.
create or replace macro annotation_slot(annotation_text, text_hash, run_id, prompt_hash, teacher_fingerprint) as {
    'piece': nullif(trim(annotation_text), ''),
    'status': case when nullif(trim(annotation_text), '') is not null then 'ok'
                   when text_hash is not null then 'unusable'
                   else 'missing' end,
    'run_id': case when nullif(trim(annotation_text), '') is not null then run_id end,
    'prompt_hash': case when nullif(trim(annotation_text), '') is not null then prompt_hash end,
    'teacher_fingerprint': case when nullif(trim(annotation_text), '') is not null then teacher_fingerprint end
}
