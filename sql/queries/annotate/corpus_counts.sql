-- Sentence occurrences and unique sentences: what deduplication by text_hash saves.
select count(*) as n_sentences, count(distinct text_hash) as n_unique from sentences
