-- The store's passages and the sentences they hold (the manifest's passage budget scales by them).
select count(*), sum(n_sentences) from passages
