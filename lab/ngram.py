"""A word-level n-gram language model with interpolated absolute discounting, on numpy arrays.

Interpolated absolute discounting (Ney, Essen and Kneser, 1994, "On structuring probabilistic
dependences in stochastic language modelling"), the smoothing Kneser–Ney builds on: every seen
n-gram gives up a discount ``D = n1 / (n1 + 2 n2)`` (from the counts of n-grams seen once and
twice, one per order), and the freed mass goes to the next lower order, down to a uniform
distribution over the whole vocabulary, so held-out text always has a finite perplexity. The
vocabulary is fixed, as a real model's tokenizer is.

Lower orders are estimated from raw counts, not Kneser–Ney's continuation counts. Continuation
counts would spread the freed mass at a sentence start evenly over every word that begins a
sentence, handing rare entities back what the discount took from them; raw counts return it
in proportion to frequency. Like a neural model's estimate, this one then favours the frequent
a little: the functional approximation error of Shumailov et al. (2024, "AI models collapse
when trained on recursively generated data").

Sampling draws the next word among those seen after the longest context the model knows,
each in proportion to its smoothed probability, as ``nltk.lm``'s ``generate`` does. Words that
only the smoothing gives probability to are not drawn, just as practical samplers cut off the
far tail: sampled text recombines n-grams seen in training and never invents one, so whatever
one generation fails to sample is gone from the next. That is the statistical approximation
error, the other cause of model collapse.

Everything is vectorised over a batch: a model is a few sorted integer arrays per order,
training is a handful of ``np.unique`` calls, and sampling draws the next token of thousands
of sentences at once, so training a generation takes well under a second.

Tokens are integer ids; id 0 is the sentence start (``BOS``, only ever context) and id 1 the
sentence end (``EOS``). An n-gram of ids ``t1..tk`` is stored as the integer key
``((t1 * V + t2) * V + ...) * V + tk`` for a vocabulary of ``V`` ids, so dropping the oldest
token of a key is ``key % V ** (k - 1)``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BOS = 0
EOS = 1
# Keys are int64: V ** order must stay below 2 ** 63.
_MAX_KEY = 2**63 - 1
# Ney's discount estimate is undefined without singletons and doubletons; these bound it.
_MIN_DISCOUNT, _MAX_DISCOUNT, _FALLBACK_DISCOUNT = 0.05, 0.95, 0.75


@dataclass(frozen=True)
class Level:
    """The n-grams of one order: contexts of ``order - 1`` tokens and the words seen after them.

    ``gram_keys`` are sorted, so the words of one context are contiguous: context row ``r``
    owns entries ``starts[r]:starts[r + 1]``. ``cumulative`` is the running sum (with a leading
    0) of each entry's smoothed probability given its context, which turns drawing a word of a
    context into one ``searchsorted``.
    """

    order: int
    discount: float
    context_keys: np.ndarray
    starts: np.ndarray
    totals: np.ndarray
    backoff: np.ndarray
    gram_keys: np.ndarray
    counts: np.ndarray
    words: np.ndarray
    cumulative: np.ndarray

    @classmethod
    def build(
        cls,
        order: int,
        gram_keys: np.ndarray,
        counts: np.ndarray,
        vocab_size: int,
        lower_probability: np.ndarray,
    ) -> Level:
        """A level from sorted unique n-gram keys, their counts, and the
        probability the lower orders give each n-gram's word after its shortened context."""
        singletons, doubletons = np.sum(counts == 1), np.sum(counts == 2)
        discount = (
            float(singletons / (singletons + 2 * doubletons))
            if singletons and doubletons
            else _FALLBACK_DISCOUNT
        )
        discount = min(max(discount, _MIN_DISCOUNT), _MAX_DISCOUNT)
        context_keys, starts = np.unique(gram_keys // vocab_size, return_index=True)
        totals = np.add.reduceat(counts, starts).astype(np.float64)
        types = np.diff(np.append(starts, len(gram_keys)))
        backoff = discount * types / totals
        rows = np.repeat(np.arange(len(starts)), types)
        probability = (counts - discount) / totals[rows] + backoff[rows] * lower_probability
        return cls(
            order=order,
            discount=discount,
            context_keys=context_keys,
            starts=np.append(starts, len(gram_keys)),
            totals=totals,
            backoff=backoff,
            gram_keys=gram_keys,
            counts=counts,
            words=gram_keys % vocab_size,
            cumulative=np.concatenate([[0.0], np.cumsum(probability)]),
        )

    def find_contexts(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row of each context key, whether that context was seen in training)."""
        rows = np.minimum(np.searchsorted(self.context_keys, keys), len(self.context_keys) - 1)
        return rows, self.context_keys[rows] == keys

    def draw(
        self, rows: np.ndarray, uniforms: np.ndarray, top_p: float, temperature: float = 1.0
    ) -> np.ndarray:
        """One word seen after each context row, in proportion to its smoothed probability
        raised to ``1 / temperature``, picked by a uniform number in [0, 1) per row. With
        ``top_p`` below 1 the words of a context are ranked by probability and only the
        smallest top set that holds ``top_p`` of their (tempered) mass can be drawn. At
        temperature 1 and top-p 1 the tables are the trained ones, so untruncated sampling
        draws exactly what it always drew for the same random numbers."""
        first, end = self.starts[rows], self.starts[rows + 1]
        cumulative, entries = self._table(temperature, ranked=top_p < 1)
        low = cumulative[first]
        mass = cumulative[end] - low
        if entries is not None:
            # The nucleus ends with the first ranked word whose running sum reaches top_p.
            nucleus_end = np.searchsorted(cumulative, low + top_p * mass, side="left")
            end = np.clip(nucleus_end, first + 1, end)
            mass = cumulative[end] - low
        target = low + uniforms * mass
        entry = np.clip(np.searchsorted(cumulative, target, side="right") - 1, first, end - 1)
        return self.words[entry if entries is None else entries[entry]]

    def _table(self, temperature: float, ranked: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """(running sum, with a leading 0, of the entries' probabilities raised to
        ``1 / temperature``; with ``ranked``, each context's entries in order of falling
        probability, and the entry at each ranked position, else None). Built once per
        setting: a chain samples each generation at one setting."""
        key = (temperature, ranked)
        if key == (1.0, False):
            return self.cumulative, None
        if key not in self._tables:
            probability = np.diff(self.cumulative)
            rows = np.repeat(np.arange(len(self.totals)), np.diff(self.starts))
            if temperature != 1:
                # Scaled by each context's largest entry first, so small powers do not underflow.
                largest = np.maximum.reduceat(probability, self.starts[:-1])
                probability = (probability / largest[rows]) ** (1 / temperature)
            entries = np.lexsort((-probability, rows)) if ranked else None
            ordered = probability if entries is None else probability[entries]
            self._tables[key] = (np.concatenate([[0.0], np.cumsum(ordered)]), entries)
        return self._tables[key]

    @functools.cached_property
    def _tables(self) -> dict[tuple[float, bool], tuple[np.ndarray, np.ndarray | None]]:
        return {}

    def discounted_counts(self, keys: np.ndarray) -> np.ndarray:
        """The discounted count of each n-gram key, 0 for n-grams never seen."""
        index = np.minimum(np.searchsorted(self.gram_keys, keys), len(self.gram_keys) - 1)
        seen = self.gram_keys[index] == keys
        return np.where(seen, self.counts[index] - self.discount, 0.0)


@dataclass(frozen=True)
class NgramModel:
    """An interpolated, absolutely discounted model of ``order`` over ``vocab_size`` ids."""

    order: int
    vocab_size: int
    levels: tuple[Level, ...]  # levels[k - 1] holds the n-grams of order k

    @classmethod
    def train(cls, sentences: Sequence[Sequence[int]], order: int, vocab_size: int) -> NgramModel:
        """Count the n-grams of ``sentences`` (token ids without BOS/EOS) and smooth them."""
        if vocab_size**order > _MAX_KEY:
            raise ValueError(f"a vocabulary of {vocab_size} is too large for order {order}")
        if not sentences:
            raise ValueError("training needs at least one sentence")
        windows = _windows(sentences, order)
        gram_keys, counts = np.unique(context_keys(windows, order, vocab_size), return_counts=True)
        return cls._from_counts(gram_keys, counts, order, vocab_size)

    @classmethod
    def _from_counts(
        cls, gram_keys: np.ndarray, counts: np.ndarray, order: int, vocab_size: int
    ) -> NgramModel:
        """Smooth the sorted unique n-grams of the highest order and their counts."""
        grams = [(gram_keys, counts)]
        for lower in range(order - 1, 0, -1):
            # Every occurrence of a lower-order n-gram ends a window of the highest order.
            suffixes, inverse = np.unique(grams[-1][0] % vocab_size**lower, return_inverse=True)
            grams.append((suffixes, np.bincount(inverse, weights=grams[-1][1]).astype(np.int64)))
        levels: list[Level] = []
        for level_order, (keys, level_counts) in enumerate(reversed(grams), start=1):
            tokens = _tokens_of_keys(keys, level_order, vocab_size)
            lower = _interpolate(levels, tokens[:, :-1], tokens[:, -1], vocab_size)
            levels.append(Level.build(level_order, keys, level_counts, vocab_size, lower))
        return cls(order, vocab_size, tuple(levels))

    # Sampling ----------------------------------------------------------------------------------
    def sample_next(
        self,
        contexts: np.ndarray,
        rng: np.random.Generator,
        top_p: float = 1.0,
        temperature: float = 1.0,
    ) -> np.ndarray:
        """Draw one next token for each row of ``contexts`` (shape ``(batch, order - 1)``):
        among the words seen after its longest known context, in proportion to their smoothed
        probability. With ``top_p`` below 1, only from the nucleus (Holtzman et al., 2020, "The
        curious case of neural text degeneration"): the most probable of those words that
        together hold ``top_p`` of their mass, the truncation production samplers apply. A
        ``temperature`` below 1 sharpens the distribution first, as those samplers do."""
        drawn = np.full(len(contexts), -1, dtype=np.int64)
        for level in reversed(self.levels):
            pending = np.flatnonzero(drawn < 0)
            if not len(pending):
                break
            rows, seen = level.find_contexts(
                context_keys(contexts[pending], level.order - 1, self.vocab_size)
            )
            uniforms = rng.random(int(seen.sum()))
            drawn[pending[seen]] = level.draw(rows[seen], uniforms, top_p, temperature)
        return drawn

    def generate(
        self,
        prefixes: Sequence[Sequence[int]],
        rng: np.random.Generator,
        max_tokens: int,
        top_p: float = 1.0,
        temperature: float = 1.0,
    ) -> list[list[int]]:
        """Continue each prefix (the tokens after BOS) until EOS or ``max_tokens`` new tokens,
        each drawn by :meth:`sample_next` with ``top_p`` and ``temperature``; returns the new
        tokens of each, without the EOS."""
        contexts = np.array([_context_of(prefix, self.order) for prefix in prefixes], np.int64)
        contexts = contexts.reshape(len(prefixes), self.order - 1)
        generated = np.full((len(prefixes), max_tokens), EOS, dtype=np.int64)
        active = np.ones(len(prefixes), dtype=bool)
        for step in range(max_tokens):
            rows = np.flatnonzero(active)
            if not len(rows):
                break
            tokens = self.sample_next(contexts[rows], rng, top_p, temperature)
            generated[rows, step] = tokens
            contexts[rows] = np.column_stack([contexts[rows, 1:], tokens])
            active[rows] = tokens != EOS
        return [[int(token) for token in row[row != EOS]] for row in generated]

    # Scoring -----------------------------------------------------------------------------------
    def probabilities(self, contexts: np.ndarray, words: np.ndarray) -> np.ndarray:
        """P(word | context) for each row of ``contexts`` (shape ``(batch, order - 1)``)."""
        return _interpolate(self.levels, contexts, words, self.vocab_size)

    def perplexity(self, sentences: Sequence[Sequence[int]]) -> float:
        """exp of the mean negative log-probability per token, EOS included."""
        windows = _windows(sentences, self.order)
        probability = self.probabilities(windows[:, :-1], windows[:, -1])
        return math.exp(-float(np.mean(np.log(probability))))

    # Storage -----------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the model to ``path`` (an ``.npz`` file): the highest order's n-grams and
        counts, from which every other array is rebuilt exactly."""
        top = self.levels[-1]
        with path.open("wb") as handle:
            np.savez(
                handle,
                shape=np.array([self.order, self.vocab_size]),
                gram_keys=top.gram_keys,
                counts=top.counts,
            )

    @classmethod
    def load(cls, path: Path) -> NgramModel:
        """Read a model written by :meth:`save`."""
        with np.load(path) as arrays:
            order, vocab_size = (int(value) for value in arrays["shape"])
            return cls._from_counts(arrays["gram_keys"], arrays["counts"], order, vocab_size)


def _windows(sentences: Sequence[Sequence[int]], order: int) -> np.ndarray:
    """Every window of ``order`` tokens that ends on a predicted token, one row each.

    Each sentence is padded with ``order - 1`` BOS in front and EOS behind, so a window never
    reaches into the sentence before it, and windows ending on a BOS are left out.
    """
    flat = np.concatenate(
        [
            np.concatenate([np.full(order - 1, BOS), np.asarray(sentence, np.int64), [EOS]])
            for sentence in sentences
        ]
    ).astype(np.int64)
    ends = np.flatnonzero(flat != BOS)
    return np.stack([flat[ends - offset] for offset in range(order - 1, -1, -1)], axis=1)


def _interpolate(
    levels: Sequence[Level], contexts: np.ndarray, words: np.ndarray, vocab_size: int
) -> np.ndarray:
    """P(word | context) under ``levels``, built up from the uniform floor order by order."""
    probability = np.full(len(words), 1.0 / (vocab_size - 1))
    for level in levels:
        keys = context_keys(contexts, level.order - 1, vocab_size)
        rows, seen = level.find_contexts(keys)
        counts = level.discounted_counts(keys * vocab_size + words)
        interpolated = counts / level.totals[rows] + level.backoff[rows] * probability
        probability = np.where(seen, interpolated, probability)
    return probability


def _tokens_of_keys(keys: np.ndarray, order: int, vocab_size: int) -> np.ndarray:
    """The token ids of n-gram keys, one row of ``order`` ids each."""
    return np.stack(
        [keys // vocab_size**power % vocab_size for power in range(order - 1, -1, -1)], axis=1
    )


def context_keys(contexts: np.ndarray, length: int, vocab_size: int) -> np.ndarray:
    """The keys of the last ``length`` tokens of each row (0 for the empty context)."""
    keys = np.zeros(len(contexts), dtype=np.int64)
    for column in range(contexts.shape[1] - length, contexts.shape[1]):
        keys = keys * vocab_size + contexts[:, column]
    return keys


def _context_of(prefix: Sequence[int], order: int) -> list[int]:
    """The last ``order - 1`` tokens of BOS-padded ``prefix``: the context of its next token."""
    padded = [BOS] * (order - 1) + list(prefix)
    return padded[len(padded) - (order - 1) :]
