"""Sentence segmentation in several scripts, offline."""

from __future__ import annotations

import pytest

from brd_data.contracts.errors import UserError
from brd_data.contracts.identity import text_hash
from brd_data.ingest.passages import chunk_positions
from brd_data.ingest.segment import SentenceSegmenter, bounded

CASES = {
    "en": (
        "Dr. Smith paid $3.50 for coffee in Washington, D.C. on Monday. Was it worth it? "
        "The U.S. economy grew 2.5% in 2023! You can freeze it for approx. two months.",
        [
            "Dr. Smith paid $3.50 for coffee in Washington, D.C. on Monday.",
            "Was it worth it?",
            "The U.S. economy grew 2.5% in 2023!",
            "You can freeze it for approx. two months.",
        ],
    ),
    "de": (
        "Am 3. Mai besuchte Dr. Müller z. B. das Museum in Berlin. Der Eintritt kostete 12,50 Euro. War es schön? Ja!",
        [
            "Am 3. Mai besuchte Dr. Müller z. B. das Museum in Berlin.",
            "Der Eintritt kostete 12,50 Euro.",
            "War es schön?",
            "Ja!",
        ],
    ),
    "zh": (
        "今天天气很好。我们去公园散步吧！你觉得怎么样？他说：“北京是中国的首都。”",
        ["今天天气很好。", "我们去公园散步吧！", "你觉得怎么样？", "他说：“北京是中国的首都。”"],
    ),
    "ja": (
        "今日は晴れです。公園に行きましょう！東京は日本の首都です。",
        ["今日は晴れです。", "公園に行きましょう！", "東京は日本の首都です。"],
    ),
    "ru": (
        "Москва — столица России. Население города превышает 13 млн человек! Вы там были?",
        ["Москва — столица России.", "Население города превышает 13 млн человек!", "Вы там были?"],
    ),
}


@pytest.mark.parametrize("lang", sorted(CASES))
def test_segments_sensibly(lang):
    text, expected = CASES[lang]
    sentences, reasons = SentenceSegmenter().split(text, lang)
    assert sentences == expected
    assert reasons == [None] * len(expected)


def test_blingfire_backend_also_splits():
    sentences, _ = SentenceSegmenter("blingfire").split("One sentence here. Another one there.", "en")
    assert sentences == ["One sentence here.", "Another one there."]


def test_unknown_backend_is_refused():
    with pytest.raises(UserError, match="not one of sentencex, blingfire"):
        SentenceSegmenter("nltk")


def test_bounded_cuts_at_white_space_and_keeps_every_character():
    s = "aaaa " * 100
    pieces = bounded(s.strip(), 42)
    assert all(len(p) <= 42 for p in pieces)
    assert " ".join(pieces) == s.strip()
    assert bounded("x" * 100, 30) == ["x" * 30] * 3 + ["x" * 10]


def test_text_hash_ignores_spacing_and_unicode_forms_only():
    assert text_hash("Hello  world.") == text_hash(" Hello world. ")
    assert text_hash("Ｈｅｌｌｏ") == text_hash("Hello")  # NFKC folds full-width forms
    assert text_hash("Hello world.") != text_hash("hello world.")
    assert len(text_hash("x")) == 16


def test_chunk_positions():
    assert chunk_positions(7, 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert chunk_positions(0, 3) == []
