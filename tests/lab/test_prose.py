"""The shipped prose: reproducible draws, paired prompts, a chain that loses diversity."""

import collections

import pytest

from evaluators import distinct_n
from lab import prose


def _texts(rows: list[dict]) -> list[str]:
    return [row["text"] for row in rows]


def test_the_shipped_file_reads_back_as_prose_sections():
    sections = prose.sections()
    assert len(sections) > 150
    assert len({section.name for section in sections}) == len(sections)
    words = sum(len(section.words) for section in sections)
    assert 30_000 < words < 60_000
    paragraphs = [paragraph for section in sections for paragraph in section.paragraphs]
    assert not any("::=" in paragraph or ">>>" in paragraph for paragraph in paragraphs)


def test_extraction_keeps_sentences_and_drops_headings_code_and_grammar():
    topic = (
        "The thing statement\n*******************\n\n"
        "Things are declared with a statement of their own:\n\n"
        '   thing_stmt ::= "thing" expression\n\n'
        "A thing may be used like this:\n\n   thing x\n   print(x)\n\n"
        "Details\n=======\n\nEvery thing is evaluated once, from left to right.\n"
    )
    sections = prose.extract_sections({"thing": topic})
    assert [(section.name, section.paragraphs) for section in sections] == [
        (
            "thing: The thing statement",
            (
                "Things are declared with a statement of their own:",
                "A thing may be used like this:",
            ),
        ),
        ("thing: Details", ("Every thing is evaluated once, from left to right.",)),
    ]


def test_a_draw_is_deterministic_and_has_the_requested_shape():
    rows = prose.draw(3, prompts=20, samples=4, words=25)
    assert rows == prose.draw(3, prompts=20, samples=4, words=25)
    assert rows != prose.draw(4, prompts=20, samples=4, words=25)
    per_prompt = collections.Counter(row["prompt_id"] for row in rows)
    assert len(per_prompt) == 20 and set(per_prompt.values()) == {4}
    assert all(len(row["text"].split()) == 25 for row in rows)
    assert all(" ".join(row["text"].split()) == row["text"] for row in rows)


def test_a_prompts_passages_do_not_overlap():
    rows = prose.draw(0, prompts=30, samples=5, words=30)
    by_prompt = collections.defaultdict(list)
    for row in rows:
        by_prompt[row["prompt_id"]].append(row["text"])
    assert all(len(set(texts)) == len(texts) for texts in by_prompt.values())


def test_paired_draws_answer_the_same_prompts_with_different_passages():
    ids = prose.prompt_ids(7, prompts=15)
    first, second = prose.draw(1, samples=3, ids=ids), prose.draw(2, samples=3, ids=ids)
    assert [row["prompt_id"] for row in first] == [row["prompt_id"] for row in second]
    assert list(dict.fromkeys(row["prompt_id"] for row in first)) == ids
    assert _texts(first) != _texts(second)


def test_more_prompts_than_sections_is_an_error():
    with pytest.raises(ValueError, match="sections have"):
        prose.prompt_ids(0, prompts=10_000)


def test_the_chain_is_deterministic_and_loses_diversity():
    generations = prose.chain(0, 2, prompts=40, samples=5, words=30)
    assert generations == prose.chain(0, 2, prompts=40, samples=5, words=30)
    assert generations[0] == prose.draw(0, prompts=40, samples=5, words=30)
    for rows in generations:
        assert [row["prompt_id"] for row in rows] == [row["prompt_id"] for row in generations[0]]
        assert all(len(row["text"].split()) == 30 for row in rows)
    openings = {tuple(row["text"].split()[:2]) for row in generations[0]}
    assert {tuple(row["text"].split()[:2]) for row in generations[2]} == openings
    human, second = (distinct_n(_texts(generations[g]), 2) for g in (0, 2))
    assert second < human


def test_truncate_and_halve_cut_words():
    rows = [{"prompt_id": "p", "text": "one two three four five"}, {"prompt_id": "q", "text": "a"}]
    assert prose.truncate(rows, 2) == [
        {"prompt_id": "p", "text": "one two"},
        {"prompt_id": "q", "text": "a"},
    ]
    assert prose.halve(rows) == [
        {"prompt_id": "p", "text": "one two three"},
        {"prompt_id": "q", "text": "a"},
    ]
    assert rows[0]["text"] == "one two three four five", "the input rows are left alone"
