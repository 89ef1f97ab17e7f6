import numpy as np
import pytest

from eep_utils.stats import bootstrap_ci, mean_ci, permutation_p_value, proportion_ci, welch_test


def test_mean_ci_matches_the_t_interval():
    values = np.array([1.0, 2.0, 3.0, 4.0])
    estimate = mean_ci(values)
    # mean 2.5, sd 1.291, t(0.975, 3) = 3.182
    assert estimate.value == 2.5
    assert estimate.high - 2.5 == pytest.approx(3.182446 * 1.290994 / 2, rel=1e-5)


def test_mean_ci_of_constant_values_has_no_width_and_empty_is_an_error():
    assert mean_ci([500, 500, 500]).low == 500
    with pytest.raises(ValueError):
        mean_ci([])


def test_wilson_interval_known_value():
    estimate = proportion_ci(8, 10)
    assert (round(estimate.low, 4), round(estimate.high, 4)) == (0.4902, 0.9433)


def test_mean_ci_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    covered = [(e.low <= 10 <= e.high) for e in (mean_ci(rng.normal(10, 3, 50)) for _ in range(1000))]
    assert 0.93 <= np.mean(covered) <= 0.97


def test_bootstrap_ci_brackets_its_statistic_and_is_reproducible():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200), rng.normal(size=200)
    first = bootstrap_ci(lambda x, y: np.corrcoef(x, y)[0, 1], a, a + 0.5 * b, seed=1)
    second = bootstrap_ci(lambda x, y: np.corrcoef(x, y)[0, 1], a, a + 0.5 * b, seed=1)
    assert first.low < first.value < first.high and first == second


def test_permutation_p_value_counts_the_observed_as_one_draw():
    assert permutation_p_value(5.0, [1, 2, 3]) == 0.25
    assert permutation_p_value(0.0, [1, 2, 3]) == 1.0


def test_welch_test_separates_different_means():
    rng = np.random.default_rng(0)
    assert welch_test(rng.normal(0, 1, 500), rng.normal(1, 1, 500)) < 1e-10
