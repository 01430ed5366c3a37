"""A synthetic annotated store for bench/mix.py: N passages of 3 sentences (4 passages a
document), an ok NER and QRA annotation for ~97% of the sentences, a non-ok one for ~2%, none for
~1%. Sentences are unique, made of English words from the sample corpus; DuckDB generates
everything (no Python loop over rows)."""

from __future__ import annotations

import re
import time
from pathlib import Path

from brd_data.contracts.paths import samples_dir
from brd_data.store import Store

_GENERATE = """
create temp table vocab as
select row_number() over (order by w) - 1 as i, w from (select unnest($words::varchar[]) as w);

insert into documents
select 'synth/' || d, 'synth', 'synth.txt', d, null, 'en', 12, $run
from range($n_docs) t(d);

insert into sentences
with s as (select range as i from range($n_sentences)),
words as (
    select i, array_to_string(list_transform(range(14 + (i % 9)),
        lambda j: (select w from vocab where vocab.i = hash(i * 131 + j) % $n_vocab)), ' ') as body
    from s
)
select 'synth/' || (i // 12) || '/' || (i % 12), 'synth/' || (i // 12), (i % 12)::integer,
       upper(body[1]) || body[2:] || ' ' || i || '.', md5(i::varchar)[1:16], 'en',
       length(body) + 8, null, $run
from words;

insert into passages
select 'synth/' || (p // 4) || '/p' || (p % 4), 'synth/' || (p // 4), (p % 4)::integer,
       list_transform(range(3), lambda k: 'synth/' || (p // 4) || '/' || ((p % 4) * 3 + k)), 3, $run
from range($n_passages) t(p);
"""

# The vocabulary lookup by correlated subquery is slow; a list index is not.
_GENERATE = _GENERATE.replace(
    "(select w from vocab where vocab.i = hash(i * 131 + j) % $n_vocab)",
    "($words::varchar[])[1 + (hash(i * 131 + j) % $n_vocab)::bigint]",
)

_ANNOTATE = """
insert into annotations by name
with s as (select range as i, md5(i::varchar)[1:16] as text_hash from range($n_sentences)),
b as (select * from (values ('ner'), ('qra')) v(behaviour))
select
    text_hash, behaviour,
    case when behaviour = 'ner'
         then 'In this sentence, "' || ($words::varchar[])[1 + (hash(i, 1) % $n_vocab)::bigint]
              || '" is an organization name entity, and "' || ($words::varchar[])[1 + (hash(i, 2) % $n_vocab)::bigint]
              || '" is a location entity mentioned with the number ' || i || '.'
         else 'Question: What does the sentence say about ' || ($words::varchar[])[1 + (hash(i, 3) % $n_vocab)::bigint]
              || '? Answer: It says that ' || ($words::varchar[])[1 + (hash(i, 4) % $n_vocab)::bigint]
              || ' is related to ' || ($words::varchar[])[1 + (hash(i, 5) % $n_vocab)::bigint] || ' ' || i || '.'
    end as raw_text,
    case when behaviour = 'ner'
         then '[{"entity": "x", "type": "organization", "detail": ""}]'
         else '[{"question": "What does the sentence say?", "answer": "It says so."}]' end as parsed,
    'synthetic-teacher' as teacher,
    'feedfeedfeedfeed' as teacher_fingerprint,
    case when behaviour = 'ner' then 'nernernernernern' else 'qraqraqraqraqraq' end as prompt_hash,
    '{}' as sampling,
    'stop' as finish_reason,
    100 as prompt_tokens,
    30 as completion_tokens,
    case when i % 50 = 7 then 'unparsed' else 'ok' end as status,
    null as reason,
    1 as attempts,
    $run as run_id,
    timestamp '2026-11-01 00:00:00' as created_at
from s cross join b
where i % 97 <> 3;
"""


def vocabulary() -> list[str]:
    text = (samples_dir() / "cc100" / "en.txt").read_text(encoding="utf-8")
    return sorted({w.lower() for w in re.findall(r"[A-Za-z]+", text)})


def synthesize(root: Path, n_passages: int) -> dict:
    """Create a store at `root` with `n_passages` annotated passages; returns counts and seconds."""
    started = time.monotonic()
    words = vocabulary()
    n_docs = -(-n_passages // 4)
    n_sentences = n_docs * 12
    st = Store(root)
    params = {"words": words, "n_vocab": len(words), "n_docs": n_docs, "n_sentences": n_sentences}
    with st.writer("bench synth"):
        ingest = st.begin_run("ingest", {"synthetic": True, "passages": n_passages}, code_version="bench")
        annotate = st.begin_run("annotate", {"synthetic": True}, code_version="bench")
        with st.transaction() as con:
            con.execute("set preserve_insertion_order = false")
            for stmt in filter(str.strip, _GENERATE.split(";")):
                used = {
                    k: v
                    for k, v in {**params, "run": ingest.run_id, "n_passages": n_passages}.items()
                    if f"${k}" in stmt
                }
                con.execute(stmt, used)
            # passages beyond n_passages in the last document are not wanted
            con.execute("delete from passages where position >= 4")
            used = {k: v for k, v in {**params, "run": annotate.run_id}.items() if f"${k}" in _ANNOTATE}
            con.execute(_ANNOTATE, used)
            ingest.finish("succeeded", con=con)
            annotate.finish("succeeded", con=con)
        with st.connect() as con:
            counts = {
                t: con.execute(f"select count(*) from {t}").fetchall()[0][0]
                for t in ("passages", "sentences", "annotations")
            }
    return {**counts, "seconds": round(time.monotonic() - started, 1)}
