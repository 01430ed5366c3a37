"""What changes between two runs of the same study (e.g. `brd demo` twice from scratch):

    .venv/bin/python bench/reproducibility.py STORE_A STORE_B

Compares, stage by stage: the teacher's fingerprint and answers (raw text and status per
sentence and behaviour), each mixture's training rows (content and order digests, rows, tokens),
each student (final loss, tokens seen, model fingerprint), and every score (accuracy per
model and task). Prints one JSON object; `differ` counts are what changed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb

from brd_data.contracts.identity import file_sha256
from brd_data.contracts.models import model_fingerprint


def _subfolders(folder: Path) -> list[Path]:
    """The folders in `folder`; none when a run stopped before making it (a stage not reached)."""
    return [f for f in folder.iterdir() if f.is_dir()] if folder.is_dir() else []


def attach(a: Path, b: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"attach '{a / 'brd.duckdb'}' as a (read_only)")
    con.execute(f"attach '{b / 'brd.duckdb'}' as b (read_only)")
    return con


def one(con, sql: str) -> dict:
    rel = con.sql(sql)
    return dict(zip(rel.columns, rel.fetchall()[0]))


def manifest(store: Path, name: str) -> dict:
    return json.loads((store / "mixtures" / name / "manifest.json").read_text())


def final_loss(out: Path) -> list:
    """The run's last logged loss and tokens seen (brd_train.json): the checkpoints may be gone."""
    run = json.loads((out / "brd_train.json").read_text())
    return [run.get("final_loss"), run.get("tokens")]


def student_model(out: Path) -> Path:
    """OUT/model, or the last checkpoint of a run made before brd wrote OUT/model."""
    if (out / "model").is_dir():
        return out / "model"
    return max(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))


def main(a: Path, b: Path) -> dict:
    con = attach(a, b)
    out: dict = {}
    out["teacher"] = one(
        con,
        "select (select list(distinct teacher_fingerprint) from a.annotations) as a,"
        " (select list(distinct teacher_fingerprint) from b.annotations) as b",
    )
    out["annotations"] = one(
        con,
        """select count(*) as compared,
                  count(*) filter (where x.raw_text is distinct from y.raw_text) as differ,
                  count(*) filter (where x.status <> y.status) as status_differ,
                  (select count(*) filter (where status = 'ok') from a.annotations) as ok_a,
                  (select count(*) filter (where status = 'ok') from b.annotations) as ok_b
           from a.annotations x join b.annotations y using (text_hash, behaviour, prompt_hash)""",
    )
    out["mixtures"] = {}
    for folder in sorted(f for f in _subfolders(a / "mixtures") if (b / "mixtures" / f.name).is_dir()):
        ma, mb = manifest(a, folder.name), manifest(b, folder.name)
        out["mixtures"][folder.name] = {
            k: [ma.get(k), mb.get(k)] for k in ("rows", "tokens", "content_hash", "order_hash", "mixture_hash")
        }
    out["students"] = {}
    for folder in sorted(f for f in _subfolders(a / "students") if (b / "students" / f.name).is_dir()):
        la, lb = final_loss(folder), final_loss(b / "students" / folder.name)
        out["students"][folder.name] = {
            "final_loss_and_tokens": [la, lb],
            "weights_sha256": [
                file_sha256(student_model(folder) / "model.safetensors")[:16],
                file_sha256(student_model(b / "students" / folder.name) / "model.safetensors")[:16],
            ],
            "model_fingerprint": [
                model_fingerprint(folder / "model"),
                model_fingerprint(b / "students" / folder.name / "model"),
            ],
        }
    scores = con.sql(
        """with x as (select regexp_replace(model, '.*/students/([^/]+).*', '\\1') as model, task, accuracy
                      from a.eval_results),
                y as (select regexp_replace(model, '.*/students/([^/]+).*', '\\1') as model, task, accuracy
                      from b.eval_results)
           select x.model, x.task, x.accuracy as a, y.accuracy as b from x join y using (model, task)
           where x.accuracy is distinct from y.accuracy order by 1, 2"""
    ).fetchall()
    student = "regexp_replace({}.model, '.*/students/([^/]+).*', '\\1')"
    n = con.sql(
        f"""select count(*) from a.eval_results x join b.eval_results y
            on {student.format("x")} = {student.format("y")} and x.task = y.task"""
    ).fetchall()[0][0]
    out["scores"] = {"compared": n, "differ": len(scores), "differences": scores}
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    print(json.dumps(main(Path(sys.argv[1]), Path(sys.argv[2])), indent=1, default=str))
