-- The sentences of every passage, in document order: what every d_* view composes.
--
-- Passage window (variables; unset = every passage): only passages whose seeded key
-- passage_key(brd_seed, passage_id) (sql/macros/passage_key.sql) lies in [brd_passage_key_lo, brd_passage_key_hi] (both inclusive, uhugeint).
-- `brd mix build` composes a large store window by window, so memory stays bounded, and takes a
-- data-size subset (the N passages with the smallest keys) the same way. brd_seed defaults to 0.
--
-- Corpus (variable brd_corpus_sources, a list of source_id[:16]; unset = every source): only
-- passages of documents from those ingested sources (a mixture's `corpus:`, e.g. BRD²'s task inputs).
-- doc_id, hence passage_id, starts with source_id[:16] (sql/schema/001_init.sql).
--
-- grain: one row per sentence of a passage; key: (passage_id, sentence_position)
create or replace view passage_sentences as
with passage_slots as (
    select passage_id, doc_id, run_id as passage_run_id, unnest(sentence_ids) as sentence_id
    from passages
    where (getvariable('brd_passage_key_hi') is null
           or (passage_key(coalesce(getvariable('brd_seed'), 0), passage_id)
                   >= coalesce(getvariable('brd_passage_key_lo')::uhugeint, 0::uhugeint)
               and passage_key(coalesce(getvariable('brd_seed'), 0), passage_id)
                   <= getvariable('brd_passage_key_hi')::uhugeint))
      and (getvariable('brd_corpus_sources') is null
           or list_contains(getvariable('brd_corpus_sources')::varchar[], split_part(passage_id, '/', 1)))
),

final as (
    select
        passage_slots.passage_id,
        passage_slots.doc_id,
        passage_slots.passage_run_id,
        sentences.sentence_id,
        sentences.position as sentence_position,  -- passages are consecutive sentences
        sentences.text,
        sentences.text_hash,
        sentences.lang,
        sentences.run_id as sentence_run_id
    from passage_slots
    join sentences using (sentence_id)
)

select * from final
