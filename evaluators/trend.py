"""Trend tests over a metric's recent runs: does it drift one way, beyond what noise explains?

Used by the "blandness creep" alert: a slow decline that no single run shows. Runs are taken
as equally spaced in time (they are, on a schedule), so only their order matters.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from statistics import NormalDist, median


@dataclass(frozen=True)
class TrendTest:
    """Mann–Kendall statistic ``s``, the one-sided p-values for an increasing and for a
    decreasing trend, and Sen's slope (change per run)."""

    s: int
    p_increasing: float
    p_decreasing: float
    slope: float


def mann_kendall_s(values: Sequence[float]) -> int:
    """S = Σ_{i<j} sign(x_j − x_i) (Mann, 1945; Kendall, 1975): positive for a rising series."""
    return sum((b > a) - (b < a) for i, a in enumerate(values) for b in values[i + 1 :])


@cache
def _mahonian_counts(n: int) -> tuple[int, ...]:
    """How many permutations of n items have k inversions, k = 0 … n(n−1)/2 (the Mahonian
    numbers): the exact null distribution of S = n(n−1)/2 − 2·inversions when there are no
    ties."""
    counts = [1]
    for size in range(2, n + 1):
        widened = [0] * (len(counts) + size - 1)
        for inversions, ways in enumerate(counts):
            for extra in range(size):
                widened[inversions + extra] += ways
        counts = widened
    return tuple(counts)


def _exact_upper_tail(n: int, s: int) -> float:
    """P(S ≥ s) under no trend and no ties."""
    counts = _mahonian_counts(n)
    pairs = n * (n - 1) // 2
    # S = pairs − 2·inversions, so S ≥ s ⇔ inversions ≤ (pairs − s) / 2.
    limit = math.floor((pairs - s) / 2)
    return sum(counts[: limit + 1]) / math.factorial(n) if limit >= 0 else 0.0


def _normal_upper_tail(values: Sequence[float], s: int) -> float:
    """P(S ≥ s) by the normal approximation with the tie-corrected variance
    Var S = [n(n−1)(2n+5) − Σ_t t(t−1)(2t+5)] / 18 and a continuity correction."""
    n = len(values)
    ties = Counter(values).values()
    variance = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties)) / 18
    if variance <= 0:
        return 1.0
    return 1 - NormalDist().cdf((s - 1) / math.sqrt(variance))


def sen_slope(values: Sequence[float]) -> float:
    """Sen's (1968) slope: the median of (x_j − x_i)/(j − i) over all pairs i < j; robust to
    a few outlying runs."""
    slopes = [
        (values[j] - values[i]) / (j - i)
        for i in range(len(values))
        for j in range(i + 1, len(values))
    ]
    return median(slopes) if slopes else 0.0


def mann_kendall(values: Sequence[float]) -> TrendTest:
    """The Mann–Kendall trend test on a series of at least two finite values.

    Exact p-values (from the permutation distribution of S) when no two values tie and
    n ≤ 60; otherwise the normal approximation with tie correction.
    """
    values = [float(value) for value in values]
    if len(values) < 2:
        raise ValueError("a trend needs at least two values")
    if not all(math.isfinite(value) for value in values):
        raise ValueError("values must be finite")
    s = mann_kendall_s(values)
    if len(set(values)) == len(values) and len(values) <= 60:
        upper = _exact_upper_tail(len(values), s)
        lower = _exact_upper_tail(len(values), -s)
    else:
        upper = _normal_upper_tail(values, s)
        lower = _normal_upper_tail(values, -s)
    return TrendTest(s=s, p_increasing=upper, p_decreasing=lower, slope=sen_slope(values))
