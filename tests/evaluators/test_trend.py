"""Mann–Kendall and Sen's slope against values worked out by hand."""

import math
import random

import pytest

from evaluators.trend import mann_kendall, mann_kendall_s, sen_slope


def test_s_counts_rising_minus_falling_pairs():
    # pairs of (1, 3, 2): 3>1 +1, 2>1 +1, 2<3 −1
    assert mann_kendall_s([1, 3, 2]) == 1
    assert mann_kendall_s([5, 5, 5]) == 0


def test_a_strictly_rising_series_of_five_has_exact_p_of_one_in_120():
    # Only the identity among the 5! orderings reaches S = 10.
    test = mann_kendall([0.1, 0.2, 0.3, 0.4, 0.5])
    assert test.s == 10
    assert test.p_increasing == pytest.approx(1 / 120)
    assert test.p_decreasing == 1.0
    assert test.slope == pytest.approx(0.1)


def test_exact_tail_of_three_values():
    # S over the 6 orderings of three distinct values: 3, 1, 1, −1, −1, −3.
    test = mann_kendall([1.0, 3.0, 2.0])
    assert test.s == 1
    assert test.p_increasing == pytest.approx(3 / 6)
    assert test.p_decreasing == pytest.approx(5 / 6)


def test_ties_use_the_corrected_normal_approximation():
    values = [1, 1, 2, 2, 3, 3, 4, 4]
    test = mann_kendall(values)
    n = 8
    variance = (n * (n - 1) * (2 * n + 5) - 4 * (2 * 1 * 9)) / 18
    expected = 1 - 0.5 * (1 + math.erf((test.s - 1) / math.sqrt(variance) / math.sqrt(2)))
    assert test.s == 24 and test.p_increasing == pytest.approx(expected)


def test_sen_slope_ignores_one_outlier():
    assert sen_slope([0, 1, 2, 30, 4, 5]) == pytest.approx(1.0)


def test_noise_is_rarely_called_a_trend():
    rng = random.Random(7)
    flagged = sum(
        mann_kendall([rng.gauss(0, 1) for _ in range(8)]).p_decreasing < 0.05 for _ in range(400)
    )
    assert flagged < 0.05 * 400 * 1.5


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        mann_kendall([1.0])
    with pytest.raises(ValueError):
        mann_kendall([1.0, float("nan")])
