"""Uncertainty over prompts: grouped jackknife intervals, permutation tests, Holm adjustment.

Prompts are the unit of resampling: the samples of one prompt are not independent of each
other. Corpus-level statistics (distinct-n, Self-BLEU, compression ratio, Vendi) must not be
bootstrapped with replacement: a resample repeats texts, which by itself lowers distinct-n
and raises Self-BLEU, so the bootstrap distribution sits beside the estimate instead of
around it. The jackknife and the permutation test never duplicate a prompt.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

CONFIDENCE = 0.95
JACKKNIFE_GROUPS = 20
STOP_AFTER = 10


def jackknife_masks(n_prompts: int, n_groups: int = JACKKNIFE_GROUPS, seed: int = 0) -> np.ndarray:
    """Leave-one-group-out prompt masks for the grouped (delete-m) jackknife.

    Prompts are dealt into ``min(n_groups, n_prompts)`` groups of near-equal size in a
    seeded random order; row g keeps every prompt outside group g.
    """
    groups = min(n_groups, n_prompts)
    if groups < 2:
        return np.zeros((0, n_prompts), dtype=bool)
    group_of_prompt = np.empty(n_prompts, dtype=np.int64)
    group_of_prompt[np.random.default_rng(seed).permutation(n_prompts)] = (
        np.arange(n_prompts) % groups
    )
    return group_of_prompt[None, :] != np.arange(groups)[:, None]


def jackknife_standard_error(replicates: np.ndarray) -> float | None:
    """The grouped-jackknife standard error sqrt((G-1)/G * sum_g (t_g - mean t)^2) of G
    leave-one-group-out replicates (undefined ones, NaN, dropped); None below two."""
    defined = replicates[np.isfinite(replicates)]
    if len(defined) < 2:
        return None
    groups = len(defined)
    return float(np.sqrt((groups - 1) / groups * np.sum((defined - defined.mean()) ** 2)))


def jackknife_interval(
    estimate: float,
    replicates: np.ndarray,
    bounds: tuple[float | None, float | None] = (None, None),
    confidence: float = CONFIDENCE,
) -> tuple[float | None, float | None]:
    """Grouped-jackknife confidence interval (Efron & Stein, 1981; Shao & Wu, 1989).

    With G leave-one-group-out replicates t_g and their standard error se
    (:func:`jackknife_standard_error`), the interval is
    estimate +/- t_{G-1, (1+confidence)/2} * se, clipped to the metric's ``bounds``. It is
    centred on the estimate, so it always contains it. Returns ``(None, None)`` when fewer
    than two replicates are defined (a single prompt carries no information on spread).
    """
    standard_error = jackknife_standard_error(replicates)
    if standard_error is None:
        return None, None
    groups = int(np.isfinite(replicates).sum())
    half_width = scipy_stats.t.ppf((1 + confidence) / 2, groups - 1) * standard_error
    low = estimate - half_width if bounds[0] is None else max(bounds[0], estimate - half_width)
    high = estimate + half_width if bounds[1] is None else min(bounds[1], estimate + half_width)
    # An estimate rounded a hair outside the metric's range still lies inside its interval.
    return float(min(low, estimate)), float(max(high, estimate))


@dataclass(frozen=True)
class PermutationDesign:
    """How prompt units of two runs, pooled as [run A's prompts, run B's prompts], are
    reassigned under the null hypothesis that both runs come from the same model.

    Paired: both runs answered the same prompts; each prompt's two sets of samples swap
    sides with probability 1/2, so each side keeps one copy of every prompt. Unpaired: a
    uniformly random split of the pooled prompts into sides of the original sizes.
    """

    n_a: int
    n_b: int
    partner_in_b: np.ndarray | None

    def masks(self, n_permutations: int, seed: int) -> np.ndarray:
        """Boolean ``(n_permutations, n_a + n_b)`` array: True puts the prompt on side A."""
        rng = np.random.default_rng(seed)
        total = self.n_a + self.n_b
        if self.partner_in_b is not None:
            swap = rng.random((n_permutations, self.n_a)) < 0.5
            masks = np.zeros((n_permutations, total), dtype=bool)
            masks[:, : self.n_a] = ~swap
            masks[:, self.n_a + self.partner_in_b] = swap
            return masks
        order = np.argsort(rng.random((n_permutations, total)), axis=1)
        return order < self.n_a

    @property
    def observed(self) -> np.ndarray:
        """The actual assignment: run A's prompts on side A."""
        return np.arange(self.n_a + self.n_b) < self.n_a


def sequential_permutation_p_value(
    observed: float, permuted_chunks: Iterable[np.ndarray], stop_after: int = STOP_AFTER
) -> float:
    """Two-sided Monte Carlo permutation p-value with Besag & Clifford's (1991) sequential
    stopping.

    Permuted statistics T* arrive in chunks; undefined ones (NaN) are skipped. Sampling stops
    at the permutation L that brings the ``stop_after``-th exceedance |T*| >= |T|, giving
    p = stop_after / L; if all B permutations pass first, p = (1 + exceedances) / (1 + B)
    (Phipson & Smyth, 2010: never zero). Both are valid p-values; stopping saves most of the
    work for metrics that clearly did not change, while a real change still gets all B
    permutations and the full resolution of 1 / (1 + B).
    """
    if not np.isfinite(observed):
        return 1.0
    # The tolerance counts ties that differ only by floating-point noise as ties.
    threshold = abs(observed) - 1e-12 * max(1.0, abs(observed))
    seen = exceedances = 0
    for chunk in permuted_chunks:
        defined = chunk[np.isfinite(chunk)]
        extreme = np.cumsum(np.abs(defined) >= threshold)
        if exceedances + (extreme[-1] if len(extreme) else 0) >= stop_after:
            position = int(np.searchsorted(extreme, stop_after - exceedances))
            return stop_after / (seen + position + 1)
        seen += len(defined)
        exceedances += int(extreme[-1]) if len(extreme) else 0
    return (1 + exceedances) / (1 + seen)


def jackknife_p_value(
    observed: float,
    baseline_replicates: np.ndarray,
    candidate_replicates: np.ndarray,
    paired: bool,
) -> float:
    """Two-sided p-value of candidate - baseline = ``observed`` against no change, from the
    grouped-jackknife replicates of the statistic in each run: for statistics with no cheap
    permutation.

    Paired (row g of both runs leaves out the same prompts): the replicates of the difference,
    d_g = candidate_g - baseline_g, give its standard error, with G - 1 degrees of freedom.
    Unpaired: the two runs' standard errors add in quadrature, with Welch-Satterthwaite degrees
    of freedom. The p-value is that of observed / se under Student's t. The jackknife estimate
    of a variance is biased upward (Efron & Stein, 1981), which errs towards fewer false alarms;
    1.0 when the spread cannot be told (fewer than two defined replicates).
    """
    if not np.isfinite(observed):
        return 1.0
    if paired:
        standard_error = jackknife_standard_error(candidate_replicates - baseline_replicates)
        degrees = np.isfinite(candidate_replicates - baseline_replicates).sum() - 1
    else:
        replicates = (baseline_replicates, candidate_replicates)
        errors = [jackknife_standard_error(values) for values in replicates]
        if None in errors:
            return 1.0
        variances = [error**2 for error in errors]
        groups = [np.isfinite(values).sum() for values in replicates]
        standard_error = float(np.sqrt(sum(variances)))
        spread = sum(v**2 / (g - 1) for v, g in zip(variances, groups, strict=True))
        degrees = sum(variances) ** 2 / spread if spread > 0 else min(groups) - 1
    if standard_error is None or standard_error == 0:
        return 1.0 if standard_error is None or observed == 0 else 0.0
    return float(2 * scipy_stats.t.sf(abs(observed) / standard_error, degrees))


def holm_adjust(p_values: np.ndarray) -> np.ndarray:
    """Holm's (1979) step-down adjustment: controls the family-wise error rate, i.e. the chance
    of flagging any metric when none truly differs, at the chosen level across all metrics.
    The adjusted p of the i-th smallest of m p-values is max_{j<=i} min(1, (m-j+1) p_(j))."""
    p_values = np.asarray(p_values, dtype=float)
    order = np.argsort(p_values)
    m = len(p_values)
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p_values[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return adjusted
