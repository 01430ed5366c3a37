-- New token counts from a build ($new: an Arrow table of text_key_hi, text_key_lo, n_tokens),
-- each key once, and only keys the cache does not hold for this tokenizer.
insert into mix_token_counts (tokenizer_fingerprint, text_key_hi, text_key_lo, n_tokens)
select distinct $tokenizer, new.text_key_hi, new.text_key_lo, new.n_tokens
from new_token_counts as new
where not exists (
    select 1
    from mix_token_counts as old
    where old.tokenizer_fingerprint = $tokenizer
      and old.text_key_hi = new.text_key_hi
      and old.text_key_lo = new.text_key_lo
)
