"""Parsing teacher outputs: tolerant of what small teachers write, strict about what is not there."""

from __future__ import annotations

import pytest

from brd_data.annotate.parsers import judge, parse_ner, parse_qra, parse_raw


@pytest.mark.parametrize(
    "text, reason",
    [
        ("The weather is nice today.", "no '\"X\" is a ... entity' clause"),
        (
            ' In this sentence, "长江" is a Chinese phrase that means river.',
            "quoted names but no '\"X\" is a ... entity' clause",
        ),
    ],
)
def test_ner_unreadable_outputs_say_why(text, reason):
    assert parse_ner(text) == (None, reason)


def test_ner_reads_the_papers_example_outputs():
    items, _ = parse_ner(
        ' In this sentence, "Eiffel Tower" is a landmark name entity, and "Paris" and "France" '
        "are geopolitical entities."
    )
    assert items == [
        {"entity": "Eiffel Tower", "type": "landmark name", "detail": None},
        {"entity": "Paris", "type": "geopolitical", "detail": None},
        {"entity": "France", "type": "geopolitical", "detail": None},
    ]
    items, _ = parse_ner(
        'In this sentence, "Belmont Estate" is a geographic entity, "63 million" is a numerical '
        'entity representing the price of the estate, and "1.28 acres" is a geographic entity '
        "representing the size of the estate."
    )
    assert [(i["entity"], i["detail"]) for i in items] == [
        ("Belmont Estate", None),
        ("63 million", "representing the price of the estate"),
        ("1.28 acres", "representing the size of the estate"),
    ]


@pytest.mark.parametrize(
    "text, entities",
    [
        (
            "In this sentence, “Microsoft” is a software name entity, and “Windows 95” is a software name entity.",
            ["Microsoft", "Windows 95"],
        ),
        ('"Apple", "Google" and "IBM" are organization entities.', ["Apple", "Google", "IBM"]),
        ('In this sentence, "Ada" is an person entity; "London" is a city entity', ["Ada", "London"]),
        ("In this sentence, there are no named entities.", []),
    ],
)
def test_ner_tolerates_quotes_lists_and_no_entities(text, entities):
    items, why = parse_ner(text)
    assert why is None and [i["entity"] for i in items] == entities


@pytest.mark.parametrize(
    "text, pairs",
    [
        (
            "Question: What did she feel? Answer: She felt a wonderful experience.",
            [("What did she feel?", "She felt a wonderful experience.")],
        ),
        ("question: why?\nanswer: because", [("why?", "because")]),
        ("Q: Who? A: Bob.", [("Who?", "Bob.")]),
        (
            "**Question 1:** Who? **Answer 1:** Bob. Question 2: Where? Answer 2: Paris.",
            [("Who?", "Bob."), ("Where?", "Paris.")],
        ),
        ("What is it? Answer: a cat", [("What is it?", "a cat")]),
        ("Question：多少钱？ Answer：两百元。", [("多少钱？", "两百元。")]),
    ],
)
def test_qra_tolerates_labels_case_numbering_and_markdown(text, pairs):
    items, why = parse_qra(text)
    assert why is None and [(i["question"], i["answer"]) for i in items] == pairs


@pytest.mark.parametrize(
    "text, reason",
    [
        ("Question: What is it?", "a question without an answer"),
        ("Question: What is it? Answer:", "a question without an answer"),
        ("I like turtles.", "no 'Question: ... Answer: ...' pair"),
        ("The data: 5 items", "no 'Question: ... Answer: ...' pair"),
    ],
)
def test_qra_unreadable_outputs_say_why(text, reason):
    assert parse_qra(text) == (None, reason)


def test_judge_statuses():
    assert judge("Question: a? Answer: b", "stop", "qra", 96).status == "ok"
    v = judge("Question: a? Answer: b c d", "length", "qra", 96)
    assert (v.status, v.reason) == ("truncated", "hit max_tokens 96 before a stop string") and v.parsed
    assert judge("", "stop", "ner", 96).reason == "empty output"
    assert judge("   \n", "length", "ner", 8).status == "truncated"
    assert judge("blah", "stop", "qra", 96).status == "unparsed"
    assert parse_raw("  a summary ") == ([{"text": "a summary"}], None)
    assert judge(" ", "stop", "raw", 5).status == "unparsed"
