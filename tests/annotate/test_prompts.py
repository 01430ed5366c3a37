"""Prompt files: the paper's prompts verbatim, hashing, request building, and bad files."""

from __future__ import annotations

import pytest

from brd_data.contracts.schemas.prompt import (
    PromptError,
    default_prompt_dir,
    discover,
    load_prompt,
    load_reference,
    resolve,
)

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


# Tables 1 and 2 of the paper as printed (PDF text, one line each; the extraction's "Ouestion" is
# "Question"): the prompt, then the teacher's response at the bottom.
TABLE_1 = (
    "Perform named entity recognition on a given sentence without recognizing personal pronouns in the input "
    "sentence as human names. Enter a sentence: Barack Obama was the 44th President of the United States. Output: "
    'In this sentence, "Barack Obama" is a person name entity, and "United States" is a geopolitical entity. Enter '
    'a sentence: I just bought a new MacBook Pro from Apple. Output: In this sentence, "Apple" is an organization '
    'name entity, and "MacBook Pro" is a product name entity. Enter a sentence: The Eiffel Tower is a famous '
    'landmark in Paris, France. Output: In this sentence, "Eiffel Tower" is a landmark name entity, and "Paris" and '
    '"France" are geopolitical entities. Enter a sentence: Belmont Estate is on the market for $63 million and boasts '
    "roughly 22,000 square feet of luxurious finishes and elaborate architecture on 1.28 acres. Output: In this "
    'sentence, "Belmont Estate" is a geographic entity, "63 million" is a numerical entity representing the price of '
    'the estate, and "1.28 acres" is a geographic entity representing the size of the estate.'
)
TABLE_2 = (
    "Ask a question to the input sentence, you can ask questions about the content, structure or attitude of the "
    "sentence, and then find the answer to the corresponding question in the original sentence. Output in the format "
    '"Question: Answer:". The sentence: In order to graduate with honors, he needed to maintain a high GPA throughout '
    "college. Question: What did he need to do in order to graduate with honors? Answer: Maintain a high GPA "
    "throughout college. The sentence: Belmont Estate is on the market for $63 million and boasts roughly 22,000 "
    "square feet of luxurious finishes and elaborate architecture on 1.28 acres. Question: How much does Belmont "
    "Estate cost? Answer: Belmont Estate costs $63 million."
)
VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, "
    "and polite answers to the user's questions."
)


def words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(("behaviour", "table"), [("ner", TABLE_1), ("qra", TABLE_2)])
def test_rendered_prompts_for_the_tables_sentence_are_tables_1_and_2(behaviour, table):
    """The prompt rendered for the table's own sentence, followed by the response printed at the
    bottom of the table, is the table word for word: the response is the teacher's, not a
    demonstration, so no prompt contains it."""
    ref = load_reference()
    prompt = load_prompt(default_prompt_dir() / f"{behaviour}.yaml")
    rendered = prompt.render(ref.sentence)
    assert words(rendered + " " + ref.responses[behaviour]) == words(table)
    assert "Belmont" not in prompt.template and "Belmont" not in prompt.render("Ada Lovelace wrote a program.")
    marker = "Enter a sentence:" if behaviour == "ner" else "The sentence:"
    assert prompt.template.count(marker) == (4 if behaviour == "ner" else 2)  # 3 and 1 demonstrations + the input
    assert prompt.mode == "completion" and prompt.parser == behaviour and prompt.input == "sentence"
    # the chat and Vicuna variants send the same prompt: as one user turn, or in Vicuna v1.1's template
    chat = load_prompt(default_prompt_dir() / f"{behaviour}-chat.yaml")
    assert chat.mode == "chat" and words(chat.template) == words(prompt.template)
    vicuna = load_prompt(default_prompt_dir() / f"{behaviour}-vicuna.yaml")
    head, tail = f"{VICUNA_SYSTEM} USER: ", " ASSISTANT:"
    assert vicuna.template.startswith(head) and vicuna.template.endswith(tail)
    inner = vicuna.template[len(head) : -len(tail)]
    assert words(inner) == words(prompt.template.removesuffix("\nOutput:"))
    assert len({prompt.prompt_hash, chat.prompt_hash, vicuna.prompt_hash}) == 3


def test_the_paper_reference_fixture_is_the_bottom_of_the_tables():
    ref = load_reference()
    assert ref.sentence.startswith("Belmont Estate is on the market for $63 million")
    assert words(ref.sentence + " Output: " + ref.responses["ner"]) in words(TABLE_1)
    assert words(ref.sentence + " " + ref.responses["qra"]) in words(TABLE_2)
    with pytest.raises(PromptError, match="unknown reference 'nope'; valid: belmont-estate"):
        load_reference("nope")


def test_the_prompt_hash_covers_what_reaches_the_teacher_only(tmp_path):
    base = load_prompt(write(tmp_path, "summary", GOOD))
    # comments, key order, quoting and block style: the same request, the same hash
    same = (
        '# a comment\ntemplate: "Summarise: {input}\\nSummary:"   # same text, quoted\n'
        'stop:\n  - "\\n"\nmax_tokens: 32\nparser: raw\nmode: completion\nbehaviour: summary\n'
    )
    relaid = load_prompt(write(tmp_path, "relaid", same))
    assert relaid.template == base.template and relaid.prompt_hash == base.prompt_hash
    assert relaid.file_sha256 != base.file_sha256  # the old (pre-070) hash saw the bytes
    assert base.prompt_hash == base.request_hash() != base.file_sha256
    # anything that changes the request changes the hash
    for edit in (
        ("Summarise:", "Summarize:"),
        ('stop: ["\\n"]', 'stop: ["\\n\\n"]'),
        ("max_tokens: 32", "max_tokens: 33"),
        ("mode: completion", "mode: chat"),
    ):
        other = load_prompt(write(tmp_path, "other", GOOD.replace(*edit)))
        assert other.prompt_hash != base.prompt_hash, edit
    # the parser reads answers; it is not sent: recorded with the prompt, not in its hash
    assert load_prompt(write(tmp_path, "p", GOOD.replace("parser: raw", "parser: qra"))).prompt_hash == base.prompt_hash
    with pytest.raises(PromptError, match="prompt_hash: set by brd"):
        load_prompt(write(tmp_path, "clash", GOOD + "\nprompt_hash: abc"))


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
