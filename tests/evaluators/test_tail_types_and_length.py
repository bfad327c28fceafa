"""Tail types (rarefied counts of rare word types), tokens per output, and length matching."""

import math

import numpy as np
import pytest

from evaluators import Batch, score, vocabulary
from evaluators.length import cut, natural_window, shared_window
from lab import prose


def rows_of(texts, samples=2):
    return [{"prompt_id": f"p{i // samples}", "text": text} for i, text in enumerate(texts)]


def test_rarefied_presence_by_hand():
    # Types with 3 and 1 tokens, N = 4, subsamples of 2: the first is always drawn (C(1, 2) = 0
    # ways to miss it); the second is missed in C(3, 2) / C(4, 2) = 3 / 6 of subsamples.
    presence = vocabulary.rarefied_presence(np.array([[3, 1]]), sample=2)
    assert presence[0] == pytest.approx([1.0, 0.5])
    assert math.isnan(vocabulary.rarefied_presence(np.array([[1, 1]]), sample=3)[0, 0])


def test_rarefied_presence_is_the_hypergeometric_probability_for_every_row_and_type():
    counts = np.random.default_rng(3).poisson(0.8, size=(30, 400)) * (1 + np.arange(400) % 7)
    counts[4] = 0  # a row too short to rarefy
    presence = vocabulary.rarefied_presence(counts, sample=50)
    for row in range(30):
        total = counts[row].sum()
        if total < 50:
            assert np.isnan(presence[row]).all()
            continue
        expected = [
            1 - math.comb(total - count, 50) / math.comb(total, 50) for count in counts[row]
        ]
        assert presence[row] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_expected_types_by_hand():
    # "zyzzyva" is the one rare word; 2 types in 4 word tokens ("." is not a word), subsample 2.
    texts = ["the the.", "the zyzzyva"]
    assert vocabulary.expected_types(texts, sample=2) == pytest.approx(1.5)
    assert vocabulary.expected_types(texts, sample=2, rare_only=True) == pytest.approx(0.5)


def test_tail_types_are_equal_for_equal_texts_whatever_their_order():
    texts = [row["text"] for row in prose.draw(0, prompts=20, samples=5)]
    shuffled = [texts[i] for i in np.random.default_rng(1).permutation(len(texts))]
    first = score(Batch.from_rows(rows_of(texts, 5)), embed=False).metrics
    second = score(Batch.from_rows(rows_of(shuffled, 4)), embed=False).metrics
    for key in ("tail_types", "types_per_1k"):
        assert first[key].value == pytest.approx(second[key].value, rel=1e-12)
    assert first["tail_types"].value == pytest.approx(
        vocabulary.expected_types(texts, rare_only=True)
    )


def test_tail_types_fall_along_the_recursive_chain():
    generations = prose.chain(0, 2, prompts=60)
    tail = [
        score(Batch.from_rows(rows), embed=False).metrics["tail_types"].value
        for rows in generations
    ]
    assert tail[0] > tail[1] > tail[2]


def test_rarefaction_needs_a_thousand_words():
    report = score(Batch.from_rows(rows_of(["a few rare words like zyzzyva"] * 4)), embed=False)
    assert "tail_types" not in report.metrics and "distinct_2" in report.metrics


def test_rarefaction_needs_a_thousand_words_even_when_none_is_rare():
    # 40 words, none of them rare: too few to rarefy to 1,000, so no tail types either (not 0).
    assert math.isnan(vocabulary.expected_types(["the cat sat on the mat"] * 8, rare_only=True))
    assert math.isnan(vocabulary.expected_types(["", "!!! 42"], rare_only=True))
    report = score(Batch.from_rows(rows_of(["the cat sat on the mat"] * 8)), embed=False)
    assert "tail_types" not in report.metrics and "tail_types_matched" not in report.metrics
    empty = score(Batch.from_rows(rows_of([""] * 8)), embed=False)
    assert "tail_types" not in empty.metrics


def test_tokens_per_output_and_its_quartiles():
    texts = ["one two three four", "one two", "a b c d e f", "x y"]
    report = score(Batch.from_rows(rows_of(texts)), embed=False)
    assert report.metrics["tokens_per_output"].value == pytest.approx(14 / 4)
    assert report.lengths["median"] == 3.0 and report.lengths["q1"] == 2.0


def test_a_cut_keeps_the_text_as_written_up_to_its_window():
    assert cut("Hello, world! How are you?", 3) == "Hello, world"
    assert cut("Don’t stop", 1) == "Don’t"
    assert cut("short", 5) == "short"


def test_the_natural_window_is_the_tenth_percentile_and_the_shared_one_the_shortest():
    assert natural_window([10] * 9 + [2]) == 9
    assert natural_window([0, 3, 0]) == 3  # empty answers have no length to match
    assert natural_window([0, 0]) is None and shared_window(natural_window([0]), 7) == 7
    assert shared_window(30, None, 12) == 12 and shared_window(None) is None


def test_length_matched_metrics_are_measured_on_the_cut_outputs():
    rows = prose.draw(0, prompts=30, samples=5, words=60)
    window = Batch.from_rows(rows).natural_window
    report = score(Batch.from_rows(rows), embed=False)
    cut_rows = [{**row, "text": cut(row["text"], window)} for row in rows]
    on_cut = score(Batch.from_rows(cut_rows), embed=False)
    assert report.counts["window_tokens"] == window
    assert report.metrics["distinct_2_matched"].value == pytest.approx(
        on_cut.metrics["distinct_2"].value
    )
    assert report.metrics["distinct_2_matched"].value > report.metrics["distinct_2"].value
