-- One behaviour's passage (§3.2): s1 <sep> B(s1) <sep> s2 <sep> B(s2) ..., as a struct of the
-- passage_texts columns. `texts` are the passage's sentences in order, `slots` the behaviour's
-- annotation_slot for each (a slot may also carry status 'filtered': d_qra_no_sent), `sep` the
-- delimiter (a constant expression such as coalesce(getvariable('brd_sep'), '<sep>'):
-- array_to_string needs one). A sentence without a piece keeps its place with nothing after it and is counted.
-- Every behaviour's passage is this one macro: passage_texts and d_qra_no_sent call it.
create or replace macro behaviour_passage(component, texts, slots, sep) as {
    'component': component,
    'text': array_to_string(list_transform(texts, lambda t, i: t || coalesce(sep || slots[i].piece, '')), sep),
    'run_ids': list_transform(slots, lambda s: s.run_id),
    'prompt_hashes': list_transform(slots, lambda s: s.prompt_hash),
    'teacher_fingerprints': list_transform(slots, lambda s: s.teacher_fingerprint),
    'n_annotated': len(list_filter(slots, lambda s: s.status = 'ok')),
    'n_unusable': len(list_filter(slots, lambda s: s.status = 'unusable')),
    'n_filtered': len(list_filter(slots, lambda s: s.status = 'filtered')),
    'n_missing': len(list_filter(slots, lambda s: s.status = 'missing'))
}
