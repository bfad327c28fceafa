import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from evaluators.stats import (
    PermutationDesign,
    holm_adjust,
    jackknife_interval,
    jackknife_masks,
    jackknife_p_value,
    sequential_permutation_p_value,
)


def test_jackknife_masks_leave_out_each_group_once():
    masks = jackknife_masks(45, n_groups=20, seed=1)
    assert masks.shape == (20, 45)
    assert np.all((~masks).sum(axis=0) == 1)
    assert set((~masks).sum(axis=1)) == {2, 3}
    assert np.array_equal(masks, jackknife_masks(45, n_groups=20, seed=1))
    assert jackknife_masks(1).shape == (0, 1)


def test_jackknife_of_a_mean_gives_the_classical_standard_error():
    values = np.array([2.0, 4.0, 9.0, 1.0, 5.0])
    masks = jackknife_masks(5, n_groups=5)
    replicates = np.array([values[mask].mean() for mask in masks])
    low, high = jackknife_interval(values.mean(), replicates)
    standard_error = values.std(ddof=1) / np.sqrt(5)
    t = 2.7764451051977987  # 97.5% quantile of Student's t with 4 degrees of freedom
    assert (low, high) == pytest.approx(
        (values.mean() - t * standard_error, values.mean() + t * standard_error)
    )


@settings(max_examples=40, deadline=None)
@given(
    st.floats(0, 1),
    st.lists(st.floats(0, 1) | st.just(float("nan")), max_size=25),
)
def test_jackknife_interval_contains_its_estimate_within_bounds(estimate, replicates):
    low, high = jackknife_interval(estimate, np.array(replicates), bounds=(0.0, 1.0))
    if low is not None:
        assert 0.0 <= low <= estimate <= high <= 1.0


def test_paired_jackknife_p_value_is_students_t_on_the_replicated_differences():
    baseline = np.array([1.0, 1.2, 0.9, 1.1, 1.0])
    candidate = baseline + np.array([0.5, 0.7, 0.4, 0.6, 0.3])
    differences = candidate - baseline
    standard_error = np.sqrt(4 / 5 * np.sum((differences - differences.mean()) ** 2))
    expected = 2 * scipy_stats.t.sf(0.2 / standard_error, 4)
    assert jackknife_p_value(0.2, baseline, candidate, paired=True) == pytest.approx(expected)


def test_unpaired_jackknife_p_value_adds_variances_with_welch_degrees_of_freedom():
    baseline, candidate = np.array([1.0, 1.4, 0.8, 1.2]), np.array([2.0, 2.1, 1.9, 2.0, 2.2, 1.8])
    variances = [3 / 4 * np.sum((baseline - baseline.mean()) ** 2)]
    variances.append(5 / 6 * np.sum((candidate - candidate.mean()) ** 2))
    degrees = sum(variances) ** 2 / (variances[0] ** 2 / 3 + variances[1] ** 2 / 5)
    expected = 2 * scipy_stats.t.sf(0.7 / np.sqrt(sum(variances)), degrees)
    assert jackknife_p_value(-0.7, baseline, candidate, paired=False) == pytest.approx(expected)


def test_jackknife_p_value_without_a_spread_to_tell_is_one():
    one = np.array([1.0])
    assert jackknife_p_value(0.3, one, one, paired=True) == 1.0
    assert jackknife_p_value(0.3, one, np.array([1.0, 2.0]), paired=False) == 1.0
    assert jackknife_p_value(float("nan"), np.ones(5), np.ones(5), paired=True) == 1.0


def test_holm_by_hand():
    adjusted = holm_adjust(np.array([0.01, 0.04, 0.03, 0.5]))
    assert adjusted == pytest.approx([0.04, 0.09, 0.09, 0.5])


def test_sequential_p_value_stops_early_and_is_exact_when_it_runs_out():
    chunks = [np.array([0.5, 2.0, -3.0]), np.array([0.1, 1.5])]
    assert sequential_permutation_p_value(1.0, iter(chunks), stop_after=2) == pytest.approx(2 / 3)
    assert sequential_permutation_p_value(10.0, iter(chunks), stop_after=2) == pytest.approx(1 / 6)
    assert sequential_permutation_p_value(float("nan"), iter(chunks)) == 1.0


def test_paired_design_keeps_one_copy_of_each_prompt_per_side():
    design = PermutationDesign(4, 4, np.array([2, 0, 3, 1]))
    masks = design.masks(50, seed=0)
    a_side, b_side = masks[:, :4], masks[:, 4:][:, [2, 0, 3, 1]]
    assert np.all(a_side ^ b_side)
    unpaired = PermutationDesign(3, 5, None).masks(50, seed=0)
    assert np.all(unpaired.sum(axis=1) == 3)
