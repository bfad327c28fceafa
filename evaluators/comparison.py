"""Comparing two runs: :func:`compare` tests, metric by metric, whether a candidate run differs
from a baseline run, with a prompt-level permutation test Holm-adjusted across metrics."""

import math
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
    jackknife_standard_error,
    sequential_permutation_p_value,
)

N_PERMUTATIONS = 1000
ALPHA = 0.05


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
    chunk by chunk on demand and cached, since a derived metric reuses its components."""

    chunk_size = 50

    def __init__(
        self, features: Features, on_a: np.ndarray, reference: Mapping[str, float]
    ) -> None:
        self._features = features
        self._chunks = np.array_split(on_a, max(1, math.ceil(len(on_a) / self.chunk_size)))
        self._reference = reference
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    def _sides(self, key: str, chunk: int) -> tuple[np.ndarray, np.ndarray]:
        if (key, chunk) not in self._cache:
            on_a, metric = self._chunks[chunk], METRICS[key]
            if metric.is_derived:
                sides = [
                    derived_rows(
                        metric,
                        {part: self._sides(part, chunk)[side] for part in metric.components},
                        self._reference,
                    )
                    for side in (0, 1)
                ]
            else:
                sides = [
                    metric.evaluate(self._features, on_a),
                    metric.evaluate(self._features, ~on_a),
                ]
            self._cache[key, chunk] = np.stack(sides)
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
    defined for both runs. Length-matched metrics are measured at the window the runs share
    (with ``reference`` too, when given). The blandness index of both runs is measured from
    ``reference`` (the run that starts the endpoint's scale) at that window, or from the
    baseline run when there is none, so both its values and their difference rest on one
    reference.
    """
    unknown = set(metrics or ()) - set(METRIC_KEYS)
    if unknown:
        raise ValueError(f"unknown metric keys: {sorted(unknown)}")
    window = length.shared_window(
        baseline.natural_window, candidate.natural_window, window_of(reference)
    )
    features = batch_features([baseline, candidate], window, encoder, embed)
    keys = list(metrics or METRIC_KEYS)
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
    chunks = _PermutedDeltas(features, design.masks(n_permutations, seed), reference_of_runs)
    raw = np.array(
        [
            sequential_permutation_p_value(side_b[key][0] - side_a[key][0], chunks.deltas(key))
            for key in tested
        ]
    )
    adjusted = holm_adjust(raw) if len(raw) else raw
    noise = _baseline_noise(features, design.n_a, tested, reference_of_runs)
    return {
        key: MetricComparison(
            baseline=float(side_a[key][0]),
            candidate=float(side_b[key][0]),
            delta=float(side_b[key][0] - side_a[key][0]),
            p_value=float(p_value),
            significant=bool(p_value < alpha),
            baseline_noise=noise[key],
        )
        for key, p_value in zip(tested, adjusted, strict=True)
    }


def _baseline_noise(
    features: Features, n_baseline: int, keys: Sequence[str], reference: Mapping[str, float]
) -> dict[str, float | None]:
    """The jackknife standard error of each metric over the baseline run's prompts (the first
    ``n_baseline`` of the pooled features)."""
    masks = np.zeros((0, features.n_prompts), dtype=bool)
    if keys:
        replicates = jackknife_masks(n_baseline)
        masks = np.zeros((len(replicates), features.n_prompts), dtype=bool)
        masks[:, :n_baseline] = replicates
    values = add_derived(metric_values(features, masks, keys), keys, reference)
    return {key: jackknife_standard_error(values[key]) for key in keys}
