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
from scipy import sparse
from scipy.special import gammaln

from evaluators.tokenize import is_word, tokenize

RARE_ZIPF = 3.5
RAREFACTION_TOKENS = 1000
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


def type_counts(
    token_lists: Sequence[Sequence[str]], group_of_output: np.ndarray, n_groups: int
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Word-type counts per group (prompt): a sparse ``(groups, types)`` matrix, and whether
    each type is rare (Zipf frequency below :data:`RARE_ZIPF`)."""
    ids: dict[str, int] = {}
    rows, cols = [], []
    for output, tokens in enumerate(token_lists):
        for token in tokens:
            if is_word(token):
                rows.append(group_of_output[output])
                cols.append(ids.setdefault(token, len(ids)))
    counts = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(n_groups, max(len(ids), 1))
    )
    rare = np.zeros(max(len(ids), 1), dtype=bool)
    rare[: len(ids)] = [zipf(word) < RARE_ZIPF for word in ids]
    return counts, rare


def rarefied_presence(counts: np.ndarray, sample: int = RAREFACTION_TOKENS) -> np.ndarray:
    """For each row of type counts (one selection of text) and each type, the probability that
    the type occurs in a random subsample of ``sample`` word tokens drawn without replacement:
    1 - C(N - N_i, n) / C(N, n) (Sanders, 1968; Hurlbert, 1971, "The nonconcept of species
    diversity"). Rows with fewer than ``sample`` tokens are NaN: rarefaction cannot add text."""
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    total = counts.sum(axis=1, keepdims=True)
    # The probability depends only on a type's count and its row's total, and the rows hold few
    # distinct counts: it is evaluated once per (row, distinct count) and looked up, which is
    # many times faster than evaluating it for every type (permutation tests ask for thousands
    # of rows).
    whole = counts.astype(np.int64)
    occurring = np.bincount(whole.ravel(), minlength=1)
    levels = np.flatnonzero(occurring)
    level_of_count = np.zeros(len(occurring), dtype=np.int64)
    level_of_count[levels] = np.arange(len(levels))
    rest = total - levels.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_absent = (
            gammaln(rest + 1)
            - gammaln(rest - sample + 1)
            - gammaln(total + 1)
            + gammaln(total - sample + 1)
        )
    absent = np.where(rest >= sample, np.exp(log_absent), 0.0)
    table = 1.0 - absent
    table[(total < sample).ravel()] = np.nan
    return np.take_along_axis(table, level_of_count[whole], axis=1)


def rarefied_types(
    counts: np.ndarray, chosen: np.ndarray | None = None, sample: int = RAREFACTION_TOKENS
) -> np.ndarray:
    """For each row of type counts, the expected number of distinct types (of the ``chosen``
    ones, a boolean mask over the types, if given) in a random subsample of ``sample`` word
    tokens; NaN for rows with fewer than ``sample`` tokens, whether or not any type is
    chosen."""
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    presence = rarefied_presence(counts, sample)
    expected = (presence if chosen is None else presence[:, chosen]).sum(axis=1)
    return np.where(counts.sum(axis=1) < sample, np.nan, expected)


def expected_types(
    texts: Sequence[str], sample: int = RAREFACTION_TOKENS, rare_only: bool = False
) -> float:
    """The expected number of distinct word types (rare ones only with ``rare_only``) in a
    random subsample of ``sample`` word tokens of ``texts`` taken together: exact rarefaction
    (see :func:`rarefied_presence`), so batches of different sizes compare, and the order of
    the texts does not matter. NaN when the texts hold fewer than ``sample`` words."""
    tokens = [tokenize(text) for text in texts]
    counts, rare = type_counts(tokens, np.zeros(len(texts), dtype=np.int64), 1)
    return float(rarefied_types(counts.toarray(), rare if rare_only else None, sample)[0])
