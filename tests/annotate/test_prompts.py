"""Prompt files: the paper's prompts verbatim, hashing, request building, and bad files."""

from __future__ import annotations

import hashlib

import pytest

from brd_data.contracts.schemas.prompt import PromptError, default_prompt_dir, discover, load_prompt, resolve

GOOD = """behaviour: summary
mode: completion
parser: raw
max_tokens: 32
stop: ["\\n"]
template: |-
  Summarise: {input}
  Summary:"""


def write(tmp_path, name, text):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "text, field",
    [
        (GOOD.replace("behaviour: summary\n", ""), "behaviour"),
        (GOOD.replace("mode: completion", "mode: instruct"), "mode"),
        (GOOD.replace("parser: raw", "parser: json"), "parser"),
        (GOOD.replace("max_tokens: 32", "max_tokens: 0"), "max_tokens"),
        (GOOD.replace("Summarise: {input}", "Summarise:"), "{input}"),
        (GOOD.replace("Summarise: {input}", "Summarise: {input} {input}"), "{input}"),
        (GOOD + "\ntemperature: 1", "temperature"),
        (GOOD.replace("behaviour: summary", "behaviour: Sum Mary"), "behaviour"),
        (GOOD + "\nsystem: be brief", "system"),
        ("behaviour: [unclosed", "YAML"),
        ("- a list", "mapping"),
    ],
)
def test_bad_prompt_files_name_the_file_and_field(tmp_path, text, field):
    path = write(tmp_path, "bad", text)
    with pytest.raises(PromptError) as err:
        load_prompt(path)
    assert str(path) in str(err.value) and field in str(err.value)


def test_shipped_prompts_are_the_papers_tables_verbatim():
    ner, qra = load_prompt(default_prompt_dir() / "ner.yaml"), load_prompt(default_prompt_dir() / "qra.yaml")
    assert ner.template.startswith(
        "Perform named entity recognition on a given sentence without recognizing "
        "personal pronouns in the input sentence as human names."
    )
    for example in (
        "Barack Obama was the 44th President of the United States.",
        "I just bought a new MacBook Pro from Apple.",
        "The Eiffel Tower is a famous landmark in Paris, France.",
        '"63 million" is a numerical entity representing the price of the estate',
    ):
        assert example in ner.template
    assert ner.template.count("Enter a sentence:") == 5 and ner.template.endswith("Enter a sentence: {input}\nOutput:")
    assert qra.template.startswith(
        "Ask a question to the input sentence, you can ask questions about the content, "
        "structure or attitude of the sentence"
    )
    assert 'Output in the format "Question: Answer:".' in qra.template
    assert "Question: How much does Belmont Estate cost? Answer: Belmont Estate costs $63 million." in qra.template
    assert (ner.mode, ner.parser, qra.mode, qra.parser) == ("completion", "ner", "completion", "qra")
    for p in (ner, qra):
        assert p.prompt_hash == hashlib.sha256((default_prompt_dir() / f"{p.name}.yaml").read_bytes()).hexdigest()[:16]
    # the chat variants carry the same text
    for p in (ner, qra):
        chat = load_prompt(default_prompt_dir() / f"{p.name}-chat.yaml")
        assert chat.mode == "chat" and chat.template == p.template and chat.prompt_hash != p.prompt_hash


def test_requests_share_the_few_shot_prefix_and_carry_the_bounds():
    ner = load_prompt(default_prompt_dir() / "ner.yaml")
    a = ner.payload("Ada Lovelace lived in London.", {"temperature": 0.0})
    b = ner.payload("Grace Hopper wrote COBOL.", {"temperature": 0.0})
    assert a["prompt"].startswith(ner.prefix) and b["prompt"].startswith(ner.prefix)
    assert a["prompt"].endswith("Enter a sentence: Ada Lovelace lived in London.\nOutput:")
    assert a["max_tokens"] == ner.max_tokens and a["stop"] == list(ner.stop) and "messages" not in a
    chat = load_prompt(default_prompt_dir() / "qra-chat.yaml").payload("Ada wrote code.", {"max_tokens": 10})
    assert chat["max_tokens"] == 10 and "prompt" not in chat
    assert chat["messages"] == [{"role": "user", "content": chat["messages"][0]["content"]}]
    assert chat["messages"][0]["content"].endswith("The sentence: Ada wrote code.\n")


def test_input_with_braces_or_dollars_is_inserted_literally():
    qra = load_prompt(default_prompt_dir() / "qra.yaml")
    text = "It costs ${price} or {input} {0}."
    assert qra.render(text).endswith(f"The sentence: {text}\n")


def test_a_user_behaviour_is_a_file_and_resolves_by_name_or_behaviour(tmp_path):
    write(tmp_path, "summary-v1", GOOD)
    by_name = resolve(["summary-v1"], [tmp_path])
    by_behaviour = resolve(["summary", "ner"], [tmp_path])
    assert by_name[0].behaviour == "summary" and by_behaviour[0].name == "summary-v1"
    assert by_behaviour[1].name == "ner"
    assert resolve(["ner"], mode="chat")[0].name == "ner-chat"
    assert "summary-v1" in discover([tmp_path])


def test_resolve_refuses_unknown_ambiguous_and_duplicate_behaviours(tmp_path):
    with pytest.raises(PromptError, match="behaviour 'sentiment': no prompt in mode completion; known prompts:"):
        resolve(["sentiment"])
    write(tmp_path, "summary-a", GOOD)
    write(tmp_path, "summary-b", GOOD.replace("max_tokens: 32", "max_tokens: 64"))
    with pytest.raises(PromptError, match=r"2 prompts \(summary-a, summary-b\)"):
        resolve(["summary"], [tmp_path])
    with pytest.raises(PromptError, match="requested twice"):
        resolve(["ner", "ner-chat"])
    with pytest.raises(PromptError, match="--mode"):
        resolve(["ner"], mode="instruct")
    with pytest.raises(PromptError, match="no such folder"):
        resolve(["ner"], [tmp_path / "missing"])
