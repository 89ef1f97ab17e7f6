import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from eep_utils.stats import (Estimate, above_zero, bootstrap_ci, cluster_bootstrap_ci, mean_ci, minimum_detectable,
                             minimum_detectable_ci, power_curve, proportion_ci, welch_test)


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
    # No successes: the interval still has width, unlike the Wald interval's [0, 0].
    none = proportion_ci(0, 20)
    assert none.value == none.low == 0 and 0.1 < none.high < 0.2


@pytest.mark.parametrize("p, n", [(0.3, 50), (0.5, 200), (0.9, 120)])
def test_wilson_interval_covers_the_true_proportion_about_95_percent_of_the_time(p, n):
    # Exact coverage: the binomial probability of every count whose interval contains p.
    covered = sum(scipy_stats.binom.pmf(k, n, p) for k in range(n + 1)
                  if (e := proportion_ci(k, n)).low <= p <= e.high)
    assert 0.93 <= covered <= 0.97


def test_mean_ci_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    covered = [(e.low <= 10 <= e.high) for e in (mean_ci(rng.normal(10, 3, 50)) for _ in range(1000))]
    assert 0.93 <= np.mean(covered) <= 0.97


def correlation(x, y):
    return np.corrcoef(x, y)[0, 1]


def test_bootstrap_ci_of_a_correlation_covers_the_true_one_about_95_percent_of_the_time():
    """Rows are resampled jointly (pairs kept together): resampling each variable on its own would centre
    the replicates on 0 and miss the true correlation of 0.6 nearly every time."""
    rng = np.random.default_rng(0)
    covered = []
    for _ in range(100):
        a = rng.normal(size=80)
        b = 0.6 * a + 0.8 * rng.normal(size=80)  # correlation 0.6
        estimate = bootstrap_ci(correlation, a, b, n_resamples=200, seed=int(rng.integers(1 << 30)))
        covered.append(estimate.low <= 0.6 <= estimate.high)
        assert estimate.n == 80 and estimate.undefined == 0
    assert 0.88 <= np.mean(covered) <= 0.99


def test_bootstrap_ci_is_reproducible_by_its_seed():
    values = np.random.default_rng(1).normal(size=50)
    assert bootstrap_ci(np.mean, values, n_resamples=200, seed=4) == bootstrap_ci(np.mean, values, n_resamples=200, seed=4)
    assert bootstrap_ci(np.mean, values, n_resamples=200, seed=4) != bootstrap_ci(np.mean, values, n_resamples=200, seed=5)


def test_bootstrap_ci_of_a_mean_agrees_with_the_t_interval():
    values = np.random.default_rng(2).normal(10, 3, 400)
    bootstrapped, t_interval = bootstrap_ci(np.mean, values, n_resamples=2000), mean_ci(values)
    assert bootstrapped.value == pytest.approx(t_interval.value)
    width = t_interval.high - t_interval.low
    assert abs(bootstrapped.low - t_interval.low) < 0.1 * width and abs(bootstrapped.high - t_interval.high) < 0.1 * width


def test_bootstrap_ci_leaves_out_and_counts_resamples_where_the_statistic_is_undefined():
    # Two of 12 items are non-zero; a resample without either (probability (10/12)^12 = 0.11) has a
    # constant x, where Spearman's rho is undefined. Every defined resample has rho > 0, so an interval
    # that counted the undefined ones as anything (0, say) would reach down to it; scipy's own is NaN.
    x = np.r_[np.zeros(10), 1.0, 2.0]
    y = np.arange(12.0)

    def rho(a, b):
        return scipy_stats.spearmanr(a, b).statistic if np.ptp(a) else np.nan

    estimate = bootstrap_ci(rho, x, y, n_resamples=400, seed=3)
    assert 0 < estimate.low <= estimate.high <= 1
    assert 0.06 < estimate.undefined / 400 < 0.17


def test_cluster_bootstrap_counts_clusters_not_their_repeats():
    """Ten distinct episodes, each repeated ten times (a temperature-0 teacher replaying the same prompts):
    the interval is as wide as ten episodes allow, not as narrow as a hundred would."""
    distinct = np.random.default_rng(5).normal(20, 3, 10)
    repeated, clusters = np.repeat(distinct, 10), np.repeat(np.arange(10), 10)
    by_cluster = cluster_bootstrap_ci(np.mean, repeated, clusters=[clusters], n_resamples=1000, seed=0)
    naive = bootstrap_ci(np.mean, repeated, n_resamples=1000, seed=0)
    of_the_ten = mean_ci(distinct)
    assert by_cluster.n == 10 and naive.n == 100
    width = by_cluster.high - by_cluster.low
    assert 0.7 < width / (of_the_ten.high - of_the_ten.low) < 1.1
    assert width > 2.5 * (naive.high - naive.low)


def test_a_power_curve_finds_the_smallest_strength_it_detects_reliably():
    def detected(strength, replicate):  # a test that detects an effect with probability equal to its strength
        return np.random.default_rng(replicate).random() < strength

    curve = power_curve(detected, [0.0, 0.3, 0.95, 1.0], replicates=40)
    assert [row["detected"] for row in curve][0] == 0 and curve[-1]["power"] == 1.0
    assert minimum_detectable(curve) == 0.95
    assert np.isnan(minimum_detectable(curve, power=1.01))
    assert all(row["power_low"] <= row["power"] <= row["power_high"] for row in curve)


def test_welch_test_separates_different_means():
    rng = np.random.default_rng(0)
    assert welch_test(rng.normal(0, 1, 500), rng.normal(1, 1, 500)) < 1e-10


def test_welch_test_on_samples_without_spread():
    assert welch_test([500, 500], [500, 500, 500]) == 1.0
    assert welch_test([500, 500], [9, 9]) == 0.0


def test_above_zero_is_decided_only_by_intervals_that_clear_zero():
    above, below, spanning = Estimate(1, 0.5, 2, 9), Estimate(-1, -2, -0.5, 9), Estimate(0.1, -0.2, 0.4, 9)
    assert above_zero(above) is True and above_zero(above, above) is True
    assert above_zero(below) is False and above_zero(above, below) is False
    assert above_zero(spanning) is None and above_zero(above, spanning) is None
    assert above_zero(Estimate(float("nan"), float("nan"), float("nan"), 0)) is None


def test_welch_against_a_sample_with_no_spread_gives_a_p_value_without_a_warning():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = welch_test(np.full(50, 500.0), np.random.default_rng(0).normal(480, 10, 50))
    assert p < 1e-6


def test_minimum_detectable_ci_resamples_whole_replicates_and_says_when_the_minimum_is_beyond_the_range():
    strengths = [0.0, 0.5, 1.0]
    always = np.array([[False] * 10, [True] * 10, [True] * 10])
    found = minimum_detectable_ci(strengths, always, n_resamples=200)
    assert (found.value, found.low, found.high, found.n, found.undefined) == (0.5, 0.5, 0.5, 10, 0)
    # A few replicates detect the middle strength, nine in ten the strongest: often beyond the range.
    weak = np.array([[False] * 10, [True] * 3 + [False] * 7, [True] * 9 + [False]])
    found = minimum_detectable_ci(strengths, weak, n_resamples=200)
    assert found.value == 1.0 and found.low == 1.0 and math.isnan(found.high) and found.undefined > 0
    with pytest.raises(ValueError, match="one row per strength"):
        minimum_detectable_ci(strengths, always[:2])
