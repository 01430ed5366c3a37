-- same_prompt_version(h, pin): whether prompt hash `h` is the prompt version `pin` names: the same
-- hash, or a row of `prompts` that sent the same request (migration 070: a hash of the file bytes,
-- from before 070, and the request hash of the same prompt are one version). `pin` may be either.
create or replace macro same_prompt_version(h, pin) as
    h = pin
    or h in (
        select p.prompt_hash
        from prompts as p
        where p.request_hash = coalesce((select q.request_hash from prompts as q where q.prompt_hash = pin), pin)
    );
