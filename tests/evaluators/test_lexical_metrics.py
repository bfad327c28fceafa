import gzip
import math
import re
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluators import compression_ratio, distinct_n, phrase_repetition, repetition, tokenize
from evaluators.lexical import NgramTable, ngram_table_of_texts
from evaluators.tokenize import TOKEN_PATTERN, is_word, token_ids

WORDS = st.sampled_from(["a", "b", "c", "d", "e", "the", "cat"])
TEXTS = st.lists(st.lists(WORDS, max_size=12).map(" ".join), min_size=1, max_size=8)
# Characters where the tokeniser's shortcuts could go wrong: apostrophes (straight, curly,
# doubled, at the edges), underscores and digits (word characters that are not letters),
# combining marks, letters whose case folding changes length ("ß", "İ", "ﬁ") or context
# ("Σ"), every kind of whitespace, replacement characters, a lone surrogate and NUL.
TRICKY = st.text(
    alphabet=st.sampled_from(
        list("aZ9_'’ .,!?-\t\n\r\x0b\x0c\x1c\x85\u00a0\u2028\u3000")
        + list("éßİﬁΣς\u0301\u0345日本\ufffd\ud800\x00٣")
    ),
    max_size=40,
)
ANY_TEXT = st.one_of(TRICKY, st.text(max_size=40))


def reference_tokens(text):
    """The tokeniser as specified: one regular expression over the case-folded text."""
    return re.findall(TOKEN_PATTERN, text.casefold().replace("\u2019", "'"))


def ngrams(tokens, n):
    return list(zip(*(tokens[i:] for i in range(n)), strict=False))


def counter_distinct(texts, n):
    grams = [gram for text in texts for gram in ngrams(reference_tokens(text), n)]
    return len(Counter(grams)) / len(grams) if grams else 0.0


def counter_repetition(texts, n=4):
    per_output = []
    for text in texts:
        grams = ngrams(reference_tokens(text), n)
        per_output.append(1 - len(set(grams)) / len(grams) if grams else 0.0)
    return float(np.mean(per_output))


def counter_phrase_repetition(texts, n=4, min_share=0.10):
    phrase_sets = [set(ngrams(reference_tokens(text), n)) for text in texts]
    outputs_with = Counter(gram for phrases in phrase_sets for gram in phrases)
    threshold = max(2, math.ceil(min_share * len(texts)))
    repeated = [any(outputs_with[gram] >= threshold for gram in phrases) for phrases in phrase_sets]
    return sum(repeated) / len(texts)


def seeded_batch(seed, outputs=120):
    """Texts over a small vocabulary with capitals, punctuation and Unicode, so that n-grams
    recur within and across outputs; some outputs are empty or a single token."""
    rng = np.random.default_rng(seed)
    vocabulary = "the The cat CAT sat on mat , . ! don't don’t ça Σίσυφος 日本 _x 3.5 a".split()
    lengths = rng.choice([0, 1, 3, 4, 5, 9, 20, 40], size=outputs)
    return [
        " ".join(rng.choice(vocabulary[: rng.integers(4, len(vocabulary))], size=length))
        for length in lengths
    ]


def test_tokenize_splits_words_and_punctuation_case_folded():
    assert tokenize("Don’t STOP, U.S.!") == ["don't", "stop", ",", "u", ".", "s", ".!"]
    assert tokenize("Ça va? 日本語") == ["ça", "va", "?", "日本語"]
    assert tokenize("bad \ufffd\ufffd bytes") == ["bad", "\ufffd\ufffd", "bytes"]
    assert tokenize("") == []


@settings(max_examples=400, deadline=None)
@given(ANY_TEXT)
def test_tokenize_equals_the_regular_expression_on_any_text(text):
    assert tokenize(text) == reference_tokens(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(ANY_TEXT, max_size=6))
def test_token_ids_number_the_tokens_of_each_text(texts):
    tokens = token_ids(texts)
    types = list(dict.fromkeys(token for text in texts for token in tokenize(text)))
    assert tokens.n_types == len(types)
    assert tokens.lengths.tolist() == [len(tokenize(text)) for text in texts]
    assert [types[i] for i in tokens.ids] == [token for text in texts for token in tokenize(text)]


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


@pytest.mark.parametrize("seed", range(4))
def test_lexical_metrics_equal_counter_loops_on_seeded_batches(seed):
    texts = seeded_batch(seed)
    for n in range(1, 5):
        assert distinct_n(texts, n) == counter_distinct(texts, n)
    assert repetition(texts) == pytest.approx(counter_repetition(texts), rel=1e-15)
    assert phrase_repetition(texts) == counter_phrase_repetition(texts)


def test_lexical_metrics_equal_counter_loops_on_zipfian_batch(make_batch):
    texts = list(make_batch(seed=3, prompts=40, samples=5, length=60, vocabulary_size=300).texts)
    for n in range(1, 5):
        assert distinct_n(texts, n) == counter_distinct(texts, n)
    assert repetition(texts) == pytest.approx(counter_repetition(texts), rel=1e-15)
    assert phrase_repetition(texts) == counter_phrase_repetition(texts)


@settings(max_examples=60, deadline=None)
@given(st.lists(ANY_TEXT, min_size=1, max_size=6))
def test_ngram_table_of_texts_equals_the_table_of_their_tokens(texts):
    from_texts = ngram_table_of_texts(texts)
    from_tokens = NgramTable.build([tokenize(text) for text in texts])
    assert from_texts.lengths.tolist() == from_tokens.lengths.tolist()
    for ours, theirs in zip(from_texts.orders, from_tokens.orders, strict=True):
        assert ours.n_ids == theirs.n_ids
        for field in ("rows", "cols", "counts"):
            assert getattr(ours, field).tolist() == getattr(theirs, field).tolist()
