import gzip
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluators import compression_ratio, distinct_n, phrase_repetition, repetition, tokenize
from evaluators.tokenize import is_word

WORDS = st.sampled_from(["a", "b", "c", "d", "e", "the", "cat"])
TEXTS = st.lists(st.lists(WORDS, max_size=12).map(" ".join), min_size=1, max_size=8)


def test_tokenize_splits_words_and_punctuation_case_folded():
    assert tokenize("Don’t STOP, U.S.!") == ["don't", "stop", ",", "u", ".", "s", ".!"]
    assert tokenize("Ça va? 日本語") == ["ça", "va", "?", "日本語"]
    assert tokenize("bad \ufffd\ufffd bytes") == ["bad", "\ufffd\ufffd", "bytes"]
    assert tokenize("") == []


def test_is_word_needs_a_letter():
    assert [is_word(t) for t in ["don't", "3.5", "_", "abc1", "日本"]] == [
        True,
        False,
        False,
        True,
        True,
    ]


def test_distinct_n_by_hand():
    texts = ["the cat sat on the mat", "the cat sat on the mat", "a dog ran"]
    # 15 tokens, 8 distinct; 12 bigrams, 7 distinct; 9 trigrams, 5 distinct; 6 4-grams, 3.
    assert distinct_n(texts, 1) == pytest.approx(8 / 15)
    assert distinct_n(texts, 2) == pytest.approx(7 / 12)
    assert distinct_n(texts, 3) == pytest.approx(5 / 9)
    assert distinct_n(texts, 4) == pytest.approx(3 / 6)


def test_distinct_n_without_ngrams_is_zero():
    assert distinct_n(["", "one"], 2) == 0.0
    assert distinct_n([], 1) == 0.0


def test_repetition_by_hand():
    # "a b c a b c a b c": six 4-grams, three distinct -> 0.5; "x" has none -> 0.
    assert repetition(["a b c a b c a b c", "x"]) == pytest.approx(0.25)
    assert repetition(["one two three four five"]) == 0.0
    with pytest.raises(ValueError):
        repetition([])


def test_phrase_repetition_by_hand():
    texts = [
        "we are happy to help you today",
        "we are happy to help with that",
        "the weather is fine",
        "completely different words here now",
    ]
    # "we are happy to" is shared by two of four outputs (>= 10% and >= 2).
    assert phrase_repetition(texts) == pytest.approx(2 / 4)
    assert phrase_repetition(["we are happy to help"]) == 0.0


def test_compression_ratio_by_hand():
    texts = ["abc abc abc", "abc"]
    raw = b"abc abc abc abc"
    assert compression_ratio(texts) == pytest.approx(len(raw) / len(gzip.compress(raw, mtime=0)))
    assert compression_ratio(["same words"] * 200) > compression_ratio(
        [f"text number {i} with word {i * 7919}" for i in range(200)]
    )


@settings(max_examples=40, deadline=None)
@given(TEXTS, st.integers(1, 4))
def test_distinct_and_repetition_stay_in_unit_interval(texts, n):
    assert 0.0 <= distinct_n(texts, n) <= 1.0
    assert 0.0 <= repetition(texts) <= 1.0
    assert 0.0 <= phrase_repetition(texts) <= 1.0
    assert math.isfinite(compression_ratio(texts))


@settings(max_examples=30, deadline=None)
@given(st.lists(WORDS, min_size=2, max_size=10).map(" ".join), st.integers(1, 3))
def test_distinct_n_falls_as_identical_outputs_repeat(text, n):
    values = [distinct_n([text] * copies, n) for copies in (1, 2, 4)]
    if distinct_n([text], n) > 0:
        assert values[0] > values[1] > values[2]
        assert values[1] == pytest.approx(values[0] / 2)
