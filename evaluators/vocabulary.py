"""Tail vocabulary: how much of the text uses rare words.

Word frequencies come from wordfreq (Speer, 2022), whose data ships inside the package, on
the Zipf scale (van Heuven et al., 2014): log10 of occurrences per billion words, so "the"
is about 7.7 and a word seen once per million words is 3. Losing the tail of the word
distribution is the earliest sign of model collapse (Shumailov et al., 2024, "AI models
collapse when trained on recursively generated data").
"""

import functools
from collections.abc import Sequence

import numpy as np
import wordfreq

from evaluators.tokenize import is_word, tokenize

RARE_ZIPF = 3.5
LANGUAGE = "en"
FUNCTION_WORD_COUNT = 100


@functools.lru_cache(maxsize=200_000)
def zipf(token: str, language: str = LANGUAGE) -> float:
    """The Zipf frequency of a token (0 for a word wordfreq has never seen)."""
    return wordfreq.zipf_frequency(token, language)


@functools.cache
def function_words(language: str = LANGUAGE) -> frozenset[str]:
    """The language's most frequent words, which are function words ("the", "of", "it's")."""
    return frozenset(wordfreq.top_n_list(language, FUNCTION_WORD_COUNT))


def vocabulary_counts(
    tokens: Sequence[str], rare_zipf: float = RARE_ZIPF, language: str = LANGUAGE
) -> tuple[int, int, int, float]:
    """Sufficient statistics of one output: (word tokens, rare word tokens, content word
    tokens, sum of content-word Zipf frequencies). Content words are words outside the
    language's most frequent words."""
    words = [token for token in tokens if is_word(token)]
    frequencies = [zipf(word, language) for word in words]
    common = function_words(language)
    content = [f for word, f in zip(words, frequencies, strict=True) if word not in common]
    return len(words), sum(f < rare_zipf for f in frequencies), len(content), sum(content)


def _summed_counts(texts: Sequence[str], rare_zipf: float, language: str) -> np.ndarray:
    rows = [vocabulary_counts(tokenize(text), rare_zipf, language) for text in texts]
    return np.array(rows, dtype=float).reshape(-1, 4).sum(axis=0)


def tail_vocabulary(
    texts: Sequence[str], rare_zipf: float = RARE_ZIPF, language: str = LANGUAGE
) -> float:
    """The share of word tokens whose Zipf frequency is below ``rare_zipf`` (3.5), over all
    outputs together; 0 when there are no words."""
    words, rare, _, _ = _summed_counts(texts, rare_zipf, language)
    return float(rare / words) if words else 0.0


def mean_zipf(texts: Sequence[str], language: str = LANGUAGE) -> float:
    """The mean Zipf frequency of content-word tokens over all outputs together: higher means
    commoner, blander words. Needs at least one content word."""
    _, _, content, zipf_sum = _summed_counts(texts, RARE_ZIPF, language)
    if not content:
        raise ValueError("mean Zipf frequency needs at least one content word")
    return float(zipf_sum / content)
