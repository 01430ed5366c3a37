"""The `task` behaviour's parser and prompt file: answers mapped onto the example's candidates."""

from __future__ import annotations

import pytest

from brd_data.annotate.parsers import judge, parse_task
from brd_data.contracts.schemas.prompt import PromptError, load_prompt, resolve

CANDIDATES = ["Yes", "No", "Maybe"]


@pytest.mark.parametrize(
    "text, answer",
    [
        (" Yes", "Yes"),
        ("yes.", "Yes"),
        (" **No**", "No"),
        ("Maybe, because the text hedges.", "Maybe"),
        ("\n  NO\nExplanation: ...", "No"),
        ('"Yes"', "Yes"),
    ],
)
def test_answers_map_onto_a_candidate(text, answer):
    items, why = parse_task(text, CANDIDATES)
    assert why is None and items[0]["answer"] == answer


@pytest.mark.parametrize(
    "text, reason",
    [
        (" Nope", "'Nope' is none of Yes, No, Maybe"),
        (" Yesterday it rained", "is none of"),
        (" The answer is yes", "is none of"),
        ("...", "is none of"),
    ],
)
def test_other_answers_are_unparsed_with_a_reason(text, reason):
    items, why = parse_task(text, CANDIDATES)
    assert items is None and reason in why


def test_the_longest_candidate_wins_and_candidates_are_required():
    assert parse_task("Not sure at all", ["No", "Not sure"])[0][0]["answer"] == "Not sure"
    assert parse_task("Yes", None) == (None, "the work item has no candidates")


def test_judge_statuses():
    assert judge(" No", "stop", "task", 8, CANDIDATES).status == "ok"
    # the answer comes first: a cut after it keeps it
    v = judge(" Yes, because the premise says", "length", "task", 8, CANDIDATES)
    assert v.status == "ok" and v.parsed[0]["answer"] == "Yes"
    assert judge(" I think that the", "length", "task", 8, CANDIDATES).status == "truncated"
    v = judge(" Perhaps", "stop", "task", 8, CANDIDATES)
    assert v.status == "unparsed" and "none of" in v.reason
    assert judge("", "stop", "task", 8, CANDIDATES).status == "unparsed"


def test_the_task_prompt_file(tmp_path):
    (p,) = resolve(["task"])
    assert (p.behaviour, p.mode, p.parser, p.input) == ("task", "completion", "task", "task")
    assert p.render("Q? Answer:") == "Q? Answer:" and p.max_tokens <= 16 and "\n" in p.stop
    (chat,) = resolve(["task"], mode="chat")
    assert chat.name == "task-chat" and chat.input == "task"
    bad = tmp_path / "bad.yaml"
    bad.write_text("behaviour: mine\nmode: completion\nparser: task\nmax_tokens: 4\ntemplate: '{input}'\n")
    with pytest.raises(PromptError, match="parser task needs input task"):
        load_prompt(bad)
