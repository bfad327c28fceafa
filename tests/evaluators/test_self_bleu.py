import math

import numpy as np
import pytest
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from evaluators import self_bleu, tokenize
from evaluators.bleu import SelfBleu
from evaluators.lexical import NgramTable

SMOOTHING = SmoothingFunction().method1


def nltk_scores(token_lists, groups=None, kept=None):
    """The reference: one NLTK sentence_bleu call per output against the others."""
    n = len(token_lists)
    groups = [0] * n if groups is None else list(groups)
    kept = [True] * n if kept is None else list(kept)
    scores = []
    for i in range(n):
        others = [token_lists[j] for j in range(n) if j != i and kept[j] and groups[j] == groups[i]]
        scores.append(
            sentence_bleu(others, token_lists[i], smoothing_function=SMOOTHING)
            if kept[i] and others
            else 0.0
        )
    return np.array(scores)


@pytest.fixture
def texts_200():
    """200 texts over a small vocabulary, so n-grams recur, of lengths 0 to 40 tokens."""
    rng = np.random.default_rng(7)
    vocabulary = "the a cat dog sat ran on under mat tree , . and then".split()
    lengths = rng.choice([0, 1, 2, 3, 4, 5, 8, 13, 21, 40], size=200)
    return [
        " ".join(rng.choice(vocabulary[: rng.integers(3, len(vocabulary))], size=length))
        for length in lengths
    ]


def test_self_bleu_equals_nltk_on_200_texts(texts_200):
    token_lists = [tokenize(text) for text in texts_200]
    reference = nltk_scores(token_lists)
    fast = SelfBleu(NgramTable.build(token_lists)).scores()
    assert np.max(np.abs(fast - reference)) < 1e-9
    assert self_bleu(texts_200) == pytest.approx(reference.mean(), abs=1e-9)


def test_self_bleu_equals_nltk_within_groups_and_subsets(texts_200):
    token_lists = [tokenize(text) for text in texts_200[:80]]
    groups = np.arange(80) % 6
    kept = np.arange(80) % 5 != 0
    fast = SelfBleu(NgramTable.build(token_lists), groups).scores(kept)
    assert np.max(np.abs(fast - nltk_scores(token_lists, groups, kept))) < 1e-9


def test_self_bleu_by_hand():
    # Each output's only reference is the other: unigram precision 3/4 for the first
    # ("a b c d" vs "a b c e"), 2/4 bigrams, 1/2 trigrams, 0/1 4-grams smoothed to 0.1/1;
    # equal lengths, so no brevity penalty.
    expected = math.exp((math.log(3 / 4) + math.log(2 / 3) + math.log(1 / 2) + math.log(0.1)) / 4)
    assert self_bleu(["a b c d", "a b c e"]) == pytest.approx(expected)
    assert self_bleu(["same text here now", "same text here now"]) == pytest.approx(1.0)


def test_self_bleu_needs_two_outputs():
    with pytest.raises(ValueError):
        self_bleu(["alone"])
    assert self_bleu(["", ""]) == 0.0
