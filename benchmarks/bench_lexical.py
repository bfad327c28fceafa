"""Lexical metrics from raw text: distinct-1..4, rep-4 and phrase repetition against naive loops.

On the shared synthetic batch (``bench_evaluators.synthetic_batch``: 2,500 outputs, ~200,000
tokens), from the list of output strings to the values, tokenisation included, as
``distinct_n``, ``repetition`` and ``phrase_repetition`` compute them, sharing one
:class:`~evaluators.lexical.NgramTable` per batch as the report does. The reference is the plain
way to write the same metrics: tokenise each text with :func:`evaluators.tokenize.tokenize` (the
same tokeniser, so its own speed-up helps the reference too), then a ``collections.Counter`` of
n-gram tuples per order (distinct-n) or per output (repetition). Both give the same values,
checked here.
"""

import math
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.bench_evaluators import synthetic_batch
from benchmarks.targets import Target, at_least, best_of
from evaluators import lexical
from evaluators.tokenize import tokenize

GOAL_TOKENS_PER_SECOND = 1_000_000
NAIVE_REPEATS, FAST_REPEATS = 3, 7


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*(tokens[i:] for i in range(n)), strict=False))


def naive_distinct(texts: Sequence[str]) -> list[float]:
    token_lists = [tokenize(text) for text in texts]
    values = []
    for n in range(1, lexical.MAX_ORDER + 1):
        counts: Counter[tuple[str, ...]] = Counter()
        total = 0
        for tokens in token_lists:
            grams = ngrams(tokens, n)
            counts.update(grams)
            total += len(grams)
        values.append(len(counts) / total if total else 0.0)
    return values


def fast_distinct(texts: Sequence[str]) -> list[float]:
    table = lexical.ngram_table_of_texts(texts)
    return [lexical.distinct(table, n) for n in range(1, lexical.MAX_ORDER + 1)]


def naive_repetition(texts: Sequence[str]) -> tuple[float, float]:
    n = lexical.PHRASE_LENGTH
    distinct_grams = []
    seq_rep = []
    for text in texts:
        grams = ngrams(tokenize(text), n)
        distinct_grams.append(set(grams))
        seq_rep.append(1 - len(distinct_grams[-1]) / len(grams) if grams else 0.0)
    outputs_with = Counter(gram for grams in distinct_grams for gram in grams)
    threshold = max(2, math.ceil(lexical.PHRASE_MIN_SHARE * len(texts)))
    with_phrase = sum(
        any(outputs_with[gram] >= threshold for gram in grams) for grams in distinct_grams
    )
    return sum(seq_rep) / len(texts), with_phrase / len(texts)


def fast_repetition(texts: Sequence[str]) -> tuple[float, float]:
    table = lexical.ngram_table_of_texts(texts, lexical.PHRASE_LENGTH)
    return (
        float(lexical.repetition_per_output(table).mean()),
        lexical.phrase_repetition_share(table, np.ones(len(texts), dtype=bool)),
    )


def throughputs(
    name: str,
    tokens: int,
    fast: Callable[[Sequence[str]], Sequence[float]],
    naive: Callable[[Sequence[str]], Sequence[float]],
    texts: Sequence[str],
) -> list[Target]:
    """The fast route against the naive loop, and against the absolute goal, in tokens/s."""
    fast_values, naive_values = np.array(fast(texts)), np.array(naive(texts))
    difference = float(np.max(np.abs(fast_values - naive_values)))
    print(f"{name}: max |difference| from the naive loop {difference:.1e}", flush=True)
    fast_rate = tokens / best_of(lambda: fast(texts), FAST_REPEATS)
    naive_rate = tokens / best_of(lambda: naive(texts), NAIVE_REPEATS)
    label = f"{name} from raw text, {tokens:,} tokens"
    return [
        at_least(
            f"{label} (equal to a naive loop within {difference:.0e})",
            fast_rate,
            naive_rate,
            5,
            "tokens/s",
            "naive Counter loop",
        ),
        at_least(label, fast_rate, GOAL_TOKENS_PER_SECOND, 1, "tokens/s", "goal"),
    ]


def targets() -> list[Target]:
    texts = synthetic_batch().texts
    tokens = sum(len(tokenize(text)) for text in texts)
    return throughputs("distinct-1..4", tokens, fast_distinct, naive_distinct, texts) + throughputs(
        "rep-4 and phrase repetition", tokens, fast_repetition, naive_repetition, texts
    )
