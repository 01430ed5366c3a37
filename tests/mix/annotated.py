"""Realistic teacher annotations for an ingested sample store, for the view and mixture tests.

The sample corpus is ingested with the real `brd ingest`; annotation rows are written through the
store API the way the annotation engine writes them (contract: sql/schema/002_annotations.sql).
What the rows hold, by the sentence's index `i` in text_hash order:

- NER, teacher A, prompt ner-v1: ok, except i % 11 == 3 (unparsed) and i % 11 == 4 (truncated);
- QRA, teacher A, prompt qra-v1: ok, except i % 13 == 5 (failed); i % 5 == 1 asks about the
  attitude, i % 5 == 2 answers with a sentiment word, i % 5 == 3 has both a sentiment item and a
  neutral one (the filter keeps one);
- i % 17 == 7: no annotation at all (missing for both behaviours);
- i % 7 == 0: a newer ok QRA from teacher B with prompt qra-v2 (the view takes it unless pinned).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from brd_data.store import Store

TEACHER_A = "a" * 16


def prompt_file(behaviour: str, template: str) -> str:
    """A prompt file's text, as the store's `prompts.template` keeps it."""
    import yaml

    head = f"# {behaviour}: a comment the teacher never saw\nformat_version: 1\n"
    return head + yaml.safe_dump(
        {
            "behaviour": behaviour,
            "mode": "completion",
            "parser": behaviour,
            "input": "sentence",
            "max_tokens": 64,
            "template": template,
        },
        sort_keys=False,
    )


TEACHER_B = "b" * 16
NER_V1 = "11" * 8
QRA_V1 = "22" * 8
QRA_V2 = "33" * 8
T0 = dt.datetime(2026, 11, 1, 12, 0, 0)


@dataclass(frozen=True)
class Annotated:
    root: Path
    text_hashes: list[str]
    run_a: str
    run_b: str

    def kind(self, i: int) -> set[str]:
        return _kinds(i)


def _kinds(i: int) -> set[str]:
    k = set()
    if i % 17 == 7:
        return {"missing"}
    if i % 11 == 3:
        k.add("ner_unparsed")
    elif i % 11 == 4:
        k.add("ner_truncated")
    if i % 13 == 5:
        k.add("qra_failed")
    if i % 5 == 1:
        k.add("attitude_question")
    elif i % 5 == 2:
        k.add("sentiment_answer")
    elif i % 5 == 3:
        k.add("mixed_items")
    if i % 7 == 0:
        k.add("newer_teacher_b")
    return k


def _qra(i: int, text: str) -> tuple[str, list[dict]]:
    k = _kinds(i)
    subject = text.split()[0] if text.split() else "it"
    if "attitude_question" in k:
        items = [{"question": "What is the attitude of the sentence?", "answer": f"The writer likes {subject}."}]
    elif "sentiment_answer" in k:
        items = [{"question": f"How is {subject} described?", "answer": "In a Negative way."}]
    elif "mixed_items" in k:
        items = [
            {"question": "What is the tone?", "answer": "Neutral."},
            {"question": "What does the sentence start with?", "answer": f"It starts with {subject}."},
        ]
    else:
        items = [{"question": f"What is mentioned first? ({i})", "answer": f"{subject} is mentioned first."}]
    raw = " ".join(f"Question: {it['question']} Answer: {it['answer']}" for it in items)
    return raw, items


def _ner(i: int, text: str) -> tuple[str, list[dict]]:
    subject = text.split()[0] if text.split() else "it"
    return (
        f'In this sentence, "{subject}" is a name entity ({i}).',
        [{"entity": subject, "type": "name", "detail": f"sentence {i}"}],
    )


def _row(text_hash, behaviour, raw, parsed, teacher, prompt, status, run_id, minutes):
    return {
        "text_hash": text_hash,
        "behaviour": behaviour,
        "raw_text": raw,
        "parsed": None if parsed is None else json.dumps(parsed),
        "teacher": f"teacher-{teacher[0]}",
        "teacher_fingerprint": teacher,
        "prompt_hash": prompt,
        "sampling": json.dumps({"temperature": 0}),
        "finish_reason": "length" if status == "truncated" else "stop",
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "status": status,
        "reason": None if status == "ok" else f"test: {status}",
        "attempts": 1,
        "run_id": run_id,
        "created_at": T0 + dt.timedelta(minutes=minutes),
    }


def annotate_store(root: Path) -> Annotated:
    """Insert prompts and annotations for every sentence of an ingested store, as described above."""
    st = Store(root)
    rows = []
    with st.writer("annotate (test)"):
        with st.reader() as con:
            sentences = con.execute(
                "select text_hash, any_value(text order by sentence_id) from sentences "
                "group by text_hash order by text_hash"
            ).fetchall()
        run_a = st.begin_run("annotate", {"teacher": "teacher-a"}, code_version="test")
        run_b = st.begin_run("annotate", {"teacher": "teacher-b"}, code_version="test")
        for i, (h, text) in enumerate(sentences):
            k = _kinds(i)
            if "missing" in k:
                continue
            raw, parsed = _ner(i, text)
            if "ner_unparsed" in k:
                rows.append(
                    _row(h, "ner", "I cannot help with that", None, TEACHER_A, NER_V1, "unparsed", run_a.run_id, 1)
                )
            elif "ner_truncated" in k:
                rows.append(_row(h, "ner", raw[:12], None, TEACHER_A, NER_V1, "truncated", run_a.run_id, 1))
            else:
                rows.append(_row(h, "ner", raw, parsed, TEACHER_A, NER_V1, "ok", run_a.run_id, 1))
            raw, parsed = _qra(i, text)
            if "qra_failed" in k:
                rows.append(_row(h, "qra", None, None, TEACHER_A, QRA_V1, "failed", run_a.run_id, 2))
            else:
                rows.append(_row(h, "qra", raw, parsed, TEACHER_A, QRA_V1, "ok", run_a.run_id, 2))
            if "newer_teacher_b" in k:
                rows.append(
                    _row(
                        h,
                        "qra",
                        f"Question: Who wrote it? ({i}) Answer: Teacher B.",
                        [{"question": f"Who wrote it? ({i})", "answer": "Teacher B."}],
                        TEACHER_B,
                        QRA_V2,
                        "ok",
                        run_b.run_id,
                        30,
                    )
                )
        prompts = [
            {
                "prompt_hash": NER_V1,
                "behaviour": "ner",
                "name": "ner",
                "mode": "completion",
                # the store keeps the prompt file's text (YAML), as `brd annotate` registers it
                "template": prompt_file(
                    "ner", "Perform named entity recognition ... Enter a sentence: {input}\nOutput:"
                ),
                "source_file": "manifests/prompts/ner.yaml",
                "run_id": run_a.run_id,
            },
            {
                "prompt_hash": QRA_V1,
                "behaviour": "qra",
                "name": "qra",
                "mode": "completion",
                "template": prompt_file("qra", "Ask a question to the input sentence ... The sentence: {input}\n"),
                "source_file": "manifests/prompts/qra.yaml",
                "run_id": run_a.run_id,
            },
            {
                "prompt_hash": QRA_V2,
                "behaviour": "qra",
                "name": "qra-v2",
                "mode": "completion",
                "template": prompt_file("qra", "Ask one question about the sentence. The sentence: {input}\n"),
                "source_file": "manifests/prompts/qra-v2.yaml",
                "run_id": run_b.run_id,
            },
        ]
        with st.transaction() as con:
            st.insert(con, "annotations", pa.Table.from_pylist(rows), ignore_duplicates=False)  # no primary key
            st.insert(con, "prompts", pa.Table.from_pylist(prompts))
            run_a.finish("succeeded", con=con)
            run_b.finish("succeeded", con=con)
    return Annotated(root, [h for h, _ in sentences], run_a.run_id, run_b.run_id)
