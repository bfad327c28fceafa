"""Self-BLEU from shared n-gram counts.

Self-BLEU (Zhu et al., 2018, "Texygen: A Benchmarking Platform for Text Generation Models")
scores each output with BLEU-4 (Papineni et al., 2002) against all other outputs as
references and averages. Done naively that is N calls of ``sentence_bleu`` over N-1
references each. Here the clipped count of an n-gram in output i needs only the largest
count of that n-gram among the *other* outputs, which is the top count over all outputs
unless output i holds it, in which case it is the second; one sort of the batch's n-gram
counts gives both for every n-gram at once.

The figures equal NLTK's ``sentence_bleu(others, hypothesis, weights=(0.25,) * 4,
smoothing_function=SmoothingFunction().method1)`` on the same tokens, including its brevity
penalty against the closest reference length (ties going to the shorter reference), its
score of 0 when no unigram matches, and method 1's epsilon of 0.1 added to empty
higher-order matches (Chen & Cherry, 2014).
"""

from collections.abc import Sequence

import numpy as np

from evaluators.lexical import MAX_ORDER, NgramTable, ngram_table_of_texts

SMOOTHING_EPSILON = 0.1


class SelfBleu:
    """Per-output BLEU-4 against the other outputs of the same group, for any subset of outputs.

    ``groups[i]`` is the group of output ``i``: one group for corpus Self-BLEU, the prompt for
    within-prompt Self-BLEU. Sorting happens once here; :meth:`scores` then costs a few
    linear passes, which keeps jackknife and permutation replicates cheap.
    """

    def __init__(self, table: NgramTable, groups: np.ndarray | None = None) -> None:
        if len(table.orders) < MAX_ORDER:
            raise ValueError(f"Self-BLEU needs n-gram counts up to order {MAX_ORDER}")
        self._table = table
        self._groups = (
            np.zeros(table.n_outputs, dtype=np.int64) if groups is None else np.asarray(groups)
        )
        self._sorted = []
        for order in table.orders[:MAX_ORDER]:
            # Entries sorted by (group, n-gram, count descending): each run's first two
            # entries are the top two counts of that n-gram within the group.
            entry_groups = self._groups[order.rows]
            permutation = np.lexsort((-order.counts, order.cols, entry_groups))
            self._sorted.append(
                (
                    order.rows[permutation],
                    entry_groups[permutation] * order.n_ids + order.cols[permutation],
                    order.counts[permutation],
                )
            )

    def scores(self, kept: np.ndarray | None = None) -> np.ndarray:
        """BLEU-4 of every kept output against the other kept outputs of its group (0 for an
        output with no reference). Returns an array over all outputs; entries of outputs not
        kept are 0."""
        n_outputs = self._table.n_outputs
        kept = np.ones(n_outputs, dtype=bool) if kept is None else np.asarray(kept, dtype=bool)
        lengths = self._table.lengths
        log_precision = np.zeros(n_outputs)
        unigram_matches = np.zeros(n_outputs)
        for n, (rows, keys, counts) in enumerate(self._sorted, start=1):
            keep = kept[rows]
            rows, keys, counts = rows[keep], keys[keep], counts[keep]
            run_start = np.ones(len(keys), dtype=bool)
            run_start[1:] = keys[1:] != keys[:-1]
            run = np.cumsum(run_start) - 1
            first = np.flatnonzero(run_start)
            top_count, top_row = counts[first], rows[first]
            second = first + 1
            has_second = second < len(keys)
            has_second[has_second] = ~run_start[second[has_second]]
            second_count = np.where(has_second, counts[np.minimum(second, len(keys) - 1)], 0)
            best_other = np.where(rows == top_row[run], second_count[run], top_count[run])
            matches = np.bincount(rows, weights=np.minimum(counts, best_other), minlength=n_outputs)
            possible = np.maximum(1, lengths - n + 1)
            precision = np.where(matches > 0, matches, SMOOTHING_EPSILON) / possible
            log_precision += np.log(precision) / MAX_ORDER
            if n == 1:
                unigram_matches = matches
        reference_length = self._closest_reference_lengths(kept)
        with np.errstate(divide="ignore", invalid="ignore"):
            brevity = np.where(
                lengths > reference_length,
                1.0,
                np.exp(1 - reference_length / np.maximum(lengths, 1)),
            )
        bleu = brevity * np.exp(log_precision)
        return np.where(kept & (unigram_matches > 0) & (lengths > 0), bleu, 0.0)

    def _closest_reference_lengths(self, kept: np.ndarray) -> np.ndarray:
        """For each kept output, the length of the other output of its group closest in length,
        ties going to the shorter; infinity where there is no other output."""
        lengths = self._table.lengths
        span = int(lengths.max(initial=0)) + 1
        keys = self._groups * span + lengths
        distinct, multiplicity = np.unique(keys[kept], return_counts=True)
        position = np.searchsorted(distinct, keys)
        position = np.minimum(position, max(len(distinct) - 1, 0))
        closest = np.full(len(lengths), np.inf)
        if not len(distinct):
            return closest
        repeated = kept & (multiplicity[position] >= 2)
        closest[repeated] = lengths[repeated]
        for step in (1, -1):
            neighbour = position + step
            inside = (neighbour >= 0) & (neighbour < len(distinct))
            neighbour = np.clip(neighbour, 0, len(distinct) - 1)
            same_group = inside & (distinct[neighbour] // span == self._groups)
            candidate = np.where(same_group, distinct[neighbour] % span, np.inf)
            distance, best = np.abs(candidate - lengths), np.abs(closest - lengths)
            better = (
                ~repeated
                & kept
                & ((distance < best) | ((distance == best) & (candidate < closest)))
            )
            closest[better] = candidate[better]
        return closest


def self_bleu(texts: Sequence[str]) -> float:
    """Self-BLEU of a batch: the mean over outputs of BLEU-4 of each output against all the
    others (see the module docstring). Needs at least two outputs."""
    if len(texts) < 2:
        raise ValueError("Self-BLEU needs at least two outputs")
    return float(SelfBleu(ngram_table_of_texts(texts)).scores().mean())
