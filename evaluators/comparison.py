"""Comparing two runs: :func:`compare` tests, metric by metric, whether a candidate run differs
from a baseline run, with a prompt-level permutation test (a grouped-jackknife test for the
statistics with no cheap permutation) Holm-adjusted across metrics."""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from evaluators import length
from evaluators.embedding import Encoder
from evaluators.features import Features
from evaluators.metrics import METRIC_KEYS, METRICS
from evaluators.report import (
    Batch,
    add_derived,
    batch_features,
    derived_rows,
    metric_values,
    reference_values,
    window_of,
)
from evaluators.stats import (
    PermutationDesign,
    holm_adjust,
    jackknife_masks,
    jackknife_p_value,
    jackknife_standard_error,
    sequential_permutation_p_value,
)

N_PERMUTATIONS = 1000
ALPHA = 0.05

# Statistics with no cheap permutation: each permuted side re-reads every output (gzip of the
# joined texts, Self-BLEU's clipped matches against every other output), so their permutations
# took ~90% of a comparison, many times the cost of scoring both runs. They are tested from the
# grouped-jackknife replicates instead (see compare).
JACKKNIFE_TESTED = frozenset(
    key for metric in ("compression_ratio", "self_bleu") for key in (metric, f"{metric}_matched")
)


@dataclass(frozen=True)
class MetricComparison:
    """One metric in two runs: values, candidate - baseline, the Holm-adjusted permutation
    p-value, whether it is below the significance level, and ``baseline_noise``, the
    grouped-jackknife standard error of the baseline's value (None when it cannot be told): the
    metric's own noise, against which an alert policy sets its effect floor."""

    baseline: float
    candidate: float
    delta: float
    p_value: float
    significant: bool
    baseline_noise: float | None = None


def _permutation_design(baseline: Batch, candidate: Batch) -> PermutationDesign:
    ids_a = [prompt.prompt_id for prompt in baseline.prompts]
    index_in_b = {prompt.prompt_id: i for i, prompt in enumerate(candidate.prompts)}
    if len(ids_a) == len(index_in_b) and set(ids_a) == set(index_in_b):
        return PermutationDesign(len(ids_a), len(ids_a), np.array([index_in_b[i] for i in ids_a]))
    return PermutationDesign(len(ids_a), len(index_in_b), None)


class _PermutedDeltas:
    """Candidate-side minus baseline-side metric values on the permuted assignments, computed
    chunk by chunk on demand and cached, since a derived metric reuses its components.

    The first chunk is small, as sequential stopping ends most tests of an unchanged metric
    there; the chunks after it double up to ``largest_chunk``, as a metric not stopped early
    usually needs every permutation, and each evaluation has a fixed cost (the threads, the
    mask-independent counting). Both sides of a chunk are evaluated in one call. The p-values do
    not depend on the chunking."""

    first_chunk = 50
    largest_chunk = 200

    def __init__(
        self, features: Features, on_a: np.ndarray, reference: Mapping[str, float]
    ) -> None:
        self._features = features
        starts, size = [0], self.first_chunk
        while starts[-1] + size < len(on_a):
            starts.append(starts[-1] + size)
            size = min(2 * size, self.largest_chunk)
        self._chunks = np.split(on_a, starts[1:])
        self._reference = reference
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    def _sides(self, key: str, chunk: int) -> np.ndarray:
        if (key, chunk) not in self._cache:
            on_a, metric = self._chunks[chunk], METRICS[key]
            if metric.is_derived:
                sides = np.stack(
                    [
                        derived_rows(
                            metric,
                            {part: self._sides(part, chunk)[side] for part in metric.components},
                            self._reference,
                        )
                        for side in (0, 1)
                    ]
                )
            else:
                sides = metric.evaluate(self._features, np.vstack([on_a, ~on_a])).reshape(2, -1)
            self._cache[key, chunk] = sides
        return self._cache[key, chunk]

    def deltas(self, key: str) -> Iterator[np.ndarray]:
        """Permuted candidate - baseline differences of metric ``key``, one chunk at a time."""
        for chunk in range(len(self._chunks)):
            side_a, side_b = self._sides(key, chunk)
            yield side_b - side_a


def compare(
    baseline: Batch,
    candidate: Batch,
    metrics: Sequence[str] | None = None,
    *,
    n_permutations: int = N_PERMUTATIONS,
    seed: int = 0,
    alpha: float = ALPHA,
    encoder: Encoder | None = None,
    embed: bool = True,
    reference: Batch | None = None,
) -> dict[str, MetricComparison]:
    """Does ``candidate`` differ from ``baseline``? A prompt-level permutation test per metric.

    Under the null hypothesis both runs come from one model, so prompts (with all their
    samples) are exchangeable between runs; the statistic is candidate - baseline, and the
    p-value compares it with ``n_permutations`` seeded reassignments (paired swaps when both
    runs answered the same prompts, see :class:`~evaluators.stats.PermutationDesign`).
    P-values are Holm-adjusted across the tested metrics, so the chance of flagging any
    metric when nothing changed stays below ``alpha``. ``metrics`` defaults to every metric
    defined for both runs. Length-matched metrics are measured at the window the runs (and
    ``reference``) share; the blandness index of both runs from ``reference`` at that window,
    or from the baseline run, so its values and their difference rest on one reference.

    The compression ratio and Self-BLEU have no cheap permutation and are tested from the
    jackknife replicates instead (:func:`_p_values`).
    """
    keys = _known(metrics)
    window = length.shared_window(
        baseline.natural_window, candidate.natural_window, window_of(reference)
    )
    features = batch_features([baseline, candidate], window, encoder, embed, keys)
    design = _permutation_design(baseline, candidate)
    observed = design.observed[None, :]
    side_a = metric_values(features, observed, keys)
    side_b = metric_values(features, ~observed, keys)
    # A derived metric of the two runs is measured from one reference: the baseline's values
    # unless another reference run is named.
    reference_of_runs = reference_values(reference, window, encoder, embed) or {
        key: float(rows[0]) for key, rows in side_a.items() if np.isfinite(rows[0])
    }
    side_a, side_b = (add_derived(side, keys, reference_of_runs) for side in (side_a, side_b))
    tested = [key for key in keys if np.isfinite(side_a[key][0]) and np.isfinite(side_b[key][0])]
    replicates_a, replicates_b = _jackknife_replicates(features, design, tested, reference_of_runs)
    deltas = {key: side_b[key][0] - side_a[key][0] for key in tested}
    chunks = _PermutedDeltas(features, design.masks(n_permutations, seed), reference_of_runs)
    raw = _p_values(deltas, chunks, (replicates_a, replicates_b), design.partner_in_b is not None)
    adjusted = holm_adjust(raw) if len(raw) else raw
    return {
        key: MetricComparison(
            baseline=float(side_a[key][0]),
            candidate=float(side_b[key][0]),
            delta=float(side_b[key][0] - side_a[key][0]),
            p_value=float(p_value),
            significant=bool(p_value < alpha),
            baseline_noise=jackknife_standard_error(replicates_a[key]),
        )
        for key, p_value in zip(tested, adjusted, strict=True)
    }


def _p_values(
    deltas: dict[str, float],
    chunks: "_PermutedDeltas",
    replicates: tuple[dict[str, np.ndarray], dict[str, np.ndarray]],
    paired: bool,
) -> np.ndarray:
    """The raw p-value of each metric's change, by permutation (stopped early once the answer
    is clear), except for the compression ratio and Self-BLEU (and their length-matched forms,
    :data:`JACKKNIFE_TESTED`), which re-read every output on each permuted side. Those are
    tested from the grouped-jackknife replicates of both runs, the ones that also give
    ``baseline_noise`` (:func:`~evaluators.stats.jackknife_p_value`; paired designs leave the
    same prompts out of both runs): a Student-t test of the difference over its jackknife
    standard error. Over pairs of independent draws from one source it flagged 0.5-1.5% at
    ``alpha`` 0.05, below the nominal rate, as the jackknife overstates a variance
    (``scripts/jackknife_false_alarms.py``). It assumes runs of similar size, as a corpus
    statistic moves with the number of outputs; the permutation test keeps the sizes."""
    replicates_a, replicates_b = replicates
    return np.array(
        [
            jackknife_p_value(delta, replicates_a[key], replicates_b[key], paired)
            if key in JACKKNIFE_TESTED
            else sequential_permutation_p_value(delta, chunks.deltas(key))
            for key, delta in deltas.items()
        ]
    )


def _known(metrics: Sequence[str] | None) -> list[str]:
    """The metric keys asked for (every one by default); unknown keys are an error."""
    unknown = set(metrics or ()) - set(METRIC_KEYS)
    if unknown:
        raise ValueError(f"unknown metric keys: {sorted(unknown)}")
    return list(metrics or METRIC_KEYS)


def _jackknife_replicates(
    features: Features,
    design: PermutationDesign,
    keys: Sequence[str],
    reference: Mapping[str, float],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The leave-one-group-out values of each metric over the baseline run's prompts (the first
    ``n_a`` of the pooled features) and over the candidate run's; in a paired design row g of
    both leaves out the same prompts."""
    if not keys:
        return {}, {}
    baseline_rows = jackknife_masks(design.n_a)
    if design.partner_in_b is None:
        candidate_rows = jackknife_masks(design.n_b)
    else:
        candidate_rows = np.zeros((len(baseline_rows), design.n_b), dtype=bool)
        candidate_rows[:, design.partner_in_b] = baseline_rows
    masks = np.zeros((len(baseline_rows) + len(candidate_rows), features.n_prompts), dtype=bool)
    masks[: len(baseline_rows), : design.n_a] = baseline_rows
    masks[len(baseline_rows) :, design.n_a :] = candidate_rows
    values = add_derived(metric_values(features, masks, keys), keys, reference)
    split = len(baseline_rows)
    return (
        {key: values[key][:split] for key in keys},
        {key: values[key][split:] for key in keys},
    )
