-- Corpus by language
with docs as (
    select lang, count(*) as n_documents from documents group by lang
),
sents as (
    select lang, count(*) as n_sentences, count(distinct text_hash) as n_unique_sentences
    from sentences group by lang
),
final as (
    select docs.lang, n_documents, n_sentences, n_unique_sentences
    from docs left join sents using (lang)
)
select * from final order by n_documents desc
