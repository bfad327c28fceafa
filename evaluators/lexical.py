"""Lexical diversity: distinct-n, repetition within and across outputs, compression ratio.

Every function here works on token lists from :func:`evaluators.tokenize.tokenize`; the
``*_of_texts`` helpers tokenise for callers holding plain strings. The n-gram counts of a
batch are built once into an :class:`NgramTable`, so the confidence intervals and
permutation tests re-aggregate counts instead of re-reading text.
"""

import gzip
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
from scipy import sparse

from evaluators.tokenize import TokenIds, token_ids

MAX_ORDER = 4
PHRASE_LENGTH = 4
PHRASE_MIN_SHARE = 0.10
_MASK_CHUNK = 64


@dataclass(frozen=True)
class NgramOrder:
    """The n-grams of one order n in a batch, as sparse ``(output, n-gram id, count)`` triples
    with one triple per distinct n-gram of each output."""

    n: int
    rows: np.ndarray
    cols: np.ndarray
    counts: np.ndarray
    n_ids: int
    """The number of distinct n-grams (ids run from 0 to ``n_ids - 1``, each one used), or 1
    when there is none, so that it can always be a base for keys."""


@dataclass(frozen=True)
class NgramTable:
    """The token lengths and n-gram counts (orders 1..``max_n``) of every output of a batch."""

    lengths: np.ndarray
    orders: tuple[NgramOrder, ...]

    @property
    def n_outputs(self) -> int:
        return len(self.lengths)

    def order(self, n: int) -> NgramOrder:
        """The n-grams of order ``n`` (1-based)."""
        return self.orders[n - 1]

    @classmethod
    def build(cls, token_lists: Sequence[Sequence[str]], max_n: int = MAX_ORDER) -> "NgramTable":
        """Count every n-gram of already tokenised outputs (see :meth:`of_tokens`)."""
        vocabulary: dict[str, int] = {}
        ids = [
            vocabulary.setdefault(token, len(vocabulary))
            for token in chain.from_iterable(token_lists)
        ]
        lengths = [len(tokens) for tokens in token_lists]
        tokens = TokenIds(
            np.array(ids, dtype=np.int64), np.array(lengths, dtype=np.int64), len(vocabulary)
        )
        return cls.of_tokens(tokens, max_n)

    @classmethod
    def of_tokens(cls, tokens: TokenIds, max_n: int = MAX_ORDER) -> "NgramTable":
        """Count every n-gram of every output, numbering n-grams by integer ids.

        N-grams never cross output boundaries. Ids are built order by order: the id of an
        n-gram is the rank of the pair (id of its first n-1 tokens, id of its last token), so
        the whole table costs a few sorts of integer arrays.
        """
        lengths, flat, n_types = tokens.lengths, tokens.ids, max(tokens.n_types, 1)
        output_of_position = np.repeat(np.arange(len(lengths)), lengths)
        tokens_left = np.cumsum(lengths)[output_of_position] - np.arange(len(flat))
        orders = []
        ids, n_ids = flat, n_types
        for n in range(1, max_n + 1):
            starts = np.flatnonzero(tokens_left >= n)
            if n > 1:
                # Positions where no n-gram starts keep id 0: no longer n-gram starts there.
                ranks, n_ids = _ranks(ids[starts] * n_types + flat[starts + n - 1])
                ids = np.zeros(len(flat), dtype=np.int64)
                ids[starts] = ranks
            pair_keys, counts = _sorted_counts(output_of_position[starts] * n_ids + ids[starts])
            orders.append(NgramOrder(n, pair_keys // n_ids, pair_keys % n_ids, counts, n_ids))
        return cls(lengths, tuple(orders))


def _run_starts(ordered: np.ndarray) -> np.ndarray:
    """Where each run of equal values of a sorted array begins."""
    starts = np.empty(len(ordered), dtype=bool)
    starts[:1] = True
    starts[1:] = ordered[1:] != ordered[:-1]
    return starts


def _sorted_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values, ascending, and how often each occurs: ``np.unique(values,
    return_counts=True)``, always by sorting (numpy 2.3+ takes a hash path for some calls of
    ``np.unique`` that costs microseconds per distinct value)."""
    ordered = np.sort(values)
    first = np.flatnonzero(_run_starts(ordered))
    return ordered[first], np.diff(first, append=len(ordered))


def _ranks(values: np.ndarray) -> tuple[np.ndarray, int]:
    """The rank of each value among the distinct values (0 for the smallest), and how many
    distinct values there are (at least 1, so that it can be a base for keys)."""
    order = np.argsort(values)
    new = _run_starts(values[order])
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[order] = np.cumsum(new) - 1
    return ranks, max(int(new.sum()), 1)


def ngram_table_of_texts(texts: Sequence[str], max_n: int = MAX_ORDER) -> NgramTable:
    """Tokenise ``texts`` and build their :class:`NgramTable`."""
    return NgramTable.of_tokens(token_ids(texts), max_n)


def distinct_counts(
    table: NgramTable, n: int, groups: np.ndarray, masks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Unique and total n-gram counts over the outputs of the selected groups, for many
    selections at once.

    ``groups[i]`` is the group (prompt) of output ``i``; ``masks`` is a boolean
    ``(selections, groups)`` array. An n-gram found in one group only adds to the unique count
    exactly when that group is selected, so only n-grams shared between groups need a sparse
    group-by-n-gram matrix product.
    """
    order = table.order(n)
    masks = np.atleast_2d(masks)
    n_groups = masks.shape[1]
    entry_groups = groups[order.rows]
    totals = np.bincount(entry_groups, weights=order.counts, minlength=n_groups)
    present, _ = _sorted_counts(entry_groups * order.n_ids + order.cols)
    present_groups, present_cols = present // order.n_ids, present % order.n_ids
    groups_per_ngram = np.bincount(present_cols, minlength=order.n_ids)
    only_here = groups_per_ngram[present_cols] == 1
    unique_only_here = np.bincount(present_groups[only_here], minlength=n_groups)
    shared_cols, n_shared = _ranks(present_cols[~only_here])
    shared = sparse.csr_matrix(
        (np.ones(len(shared_cols)), (present_groups[~only_here], shared_cols)),
        shape=(n_groups, n_shared),
    )
    unique_shared = np.concatenate(
        [
            np.asarray(((shared.T @ chunk.T.astype(float)) > 0).sum(axis=0)).ravel()
            for chunk in np.array_split(masks, max(1, math.ceil(len(masks) / _MASK_CHUNK)))
        ]
    )
    return masks @ unique_only_here + unique_shared, masks @ totals


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct-n (Li et al., 2016, "A Diversity-Promoting Objective Function for Neural
    Conversation Models"): the number of unique n-grams divided by the total number of n-grams
    over all ``texts`` together. A batch with no n-gram at all scores 0 (nothing distinct)."""
    return distinct(ngram_table_of_texts(texts, n), n)


def distinct(table: NgramTable, n: int) -> float:
    """Distinct-n of all the outputs of ``table`` together (see :func:`distinct_n`): the
    table's ids number exactly its distinct n-grams."""
    order = table.order(n)
    total = int(order.counts.sum())
    return order.n_ids / total if total else 0.0


def repetition_per_output(table: NgramTable, n: int = PHRASE_LENGTH) -> np.ndarray:
    """seq-rep-n of each output (Welleck et al., 2019, "Neural Text Generation with Unlikelihood
    Training"): 1 - unique n-grams / total n-grams within the output; 0 for an output shorter
    than n, which repeats nothing."""
    order = table.order(n)
    unique = np.bincount(order.rows, minlength=table.n_outputs)
    total = np.bincount(order.rows, weights=order.counts, minlength=table.n_outputs)
    return np.divide(total - unique, total, out=np.zeros(table.n_outputs), where=total > 0)


def repetition(texts: Sequence[str], n: int = PHRASE_LENGTH) -> float:
    """rep-n of a batch: the mean over outputs of seq-rep-n (see :func:`repetition_per_output`)."""
    if not texts:
        raise ValueError("repetition needs at least one output")
    return float(repetition_per_output(ngram_table_of_texts(texts, n), n).mean())


def phrase_repetition_share(
    table: NgramTable,
    kept: np.ndarray,
    n: int = PHRASE_LENGTH,
    min_share: float = PHRASE_MIN_SHARE,
) -> float:
    """The share of the kept outputs containing a phrase of n tokens that occurs in at least
    ``min_share`` of the kept outputs (and in at least two of them).

    Any shared phrase longer than n contains a shared n-gram, so checking n-grams finds every
    phrase of n or more tokens.
    """
    n_kept = int(kept.sum())
    if n_kept == 0:
        raise ValueError("phrase repetition needs at least one output")
    order = table.order(n)
    kept_entries = kept[order.rows]
    outputs_with = np.bincount(order.cols[kept_entries], minlength=order.n_ids)
    threshold = max(2, math.ceil(min_share * n_kept))
    repeated = kept_entries & (outputs_with[order.cols] >= threshold)
    return np.count_nonzero(np.bincount(order.rows[repeated], minlength=table.n_outputs)) / n_kept


def phrase_repetition(
    texts: Sequence[str], n: int = PHRASE_LENGTH, min_share: float = PHRASE_MIN_SHARE
) -> float:
    """Across-output repetition ("the same turns of phrase again and again"): the share of
    outputs containing a phrase of at least n tokens shared by at least ``min_share`` (10%) of
    all outputs, and by at least two."""
    table = ngram_table_of_texts(texts, n)
    return phrase_repetition_share(table, np.ones(len(texts), dtype=bool), n, min_share)


def compression_ratio(texts: Sequence[str]) -> float:
    """Compression ratio (Shaib et al., 2024, "Standardizing the Measurement of Text
    Diversity"): the UTF-8 size of the outputs joined by spaces divided by its gzip size
    (level 9, fixed header time, so the figure is reproducible). Repetitive text compresses
    better, so higher is blander."""
    raw = " ".join(texts).encode("utf-8", errors="replace")
    return len(raw) / len(gzip.compress(raw, compresslevel=9, mtime=0))
