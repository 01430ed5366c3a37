-- One behaviour's sentence-level unit (§5.3): s <sep> B(s), from the sentence's annotation_slot,
-- as a struct of d_sentence_level's columns; `ok` is false when the slot has no piece (no unit).
create or replace macro behaviour_sentence(component, text, slot, sep) as {
    'component': component,
    'text': text || sep || slot.piece,
    'run_id': slot.run_id,
    'prompt_hash': slot.prompt_hash,
    'teacher_fingerprint': slot.teacher_fingerprint,
    'ok': slot.status = 'ok'
}
