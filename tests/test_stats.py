import numpy as np
import pytest
from scipy import stats as scipy_stats

from eep_utils.stats import Estimate, above_zero, bootstrap_ci, mean_ci, proportion_ci, welch_test


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


def test_bootstrap_ci_is_scipys_paired_percentile_bootstrap():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200), rng.normal(size=200)
    estimate = bootstrap_ci(correlation, a, a + 0.5 * b, n_resamples=500, seed=1)
    reference = scipy_stats.bootstrap((a, a + 0.5 * b), correlation, paired=True, vectorized=False, n_resamples=500,
                                      method="percentile", rng=np.random.default_rng(1)).confidence_interval
    assert (estimate.low, estimate.high) == (reference.low, reference.high)
    assert estimate.low < estimate.value == correlation(a, a + 0.5 * b) < estimate.high and estimate.n == 200
    assert bootstrap_ci(correlation, a, a + 0.5 * b, n_resamples=500, seed=1) == estimate


def test_bootstrap_ci_of_a_mean_agrees_with_the_t_interval():
    values = np.random.default_rng(2).normal(10, 3, 400)
    bootstrapped, t_interval = bootstrap_ci(np.mean, values, n_resamples=2000), mean_ci(values)
    assert bootstrapped.value == pytest.approx(t_interval.value)
    width = t_interval.high - t_interval.low
    assert abs(bootstrapped.low - t_interval.low) < 0.1 * width and abs(bootstrapped.high - t_interval.high) < 0.1 * width


def test_bootstrap_ci_leaves_out_resamples_where_the_statistic_is_undefined():
    # Two of 12 items are non-zero: some resamples hold only zeros, where Spearman's rho is undefined.
    x = np.r_[np.zeros(10), 1.0, 2.0]
    y = np.arange(12.0)

    def rho(a, b):
        return scipy_stats.spearmanr(a, b).statistic if np.ptp(a) else np.nan

    estimate = bootstrap_ci(rho, x, y, n_resamples=400, seed=3)
    with pytest.warns(scipy_stats.DegenerateDataWarning):
        reference = scipy_stats.bootstrap((x, y), rho, paired=True, vectorized=False, n_resamples=400,
                                          method="percentile", rng=np.random.default_rng(3))
    assert np.isnan(reference.confidence_interval.low)  # scipy's own interval is undefined here
    replicates = reference.bootstrap_distribution
    defined = replicates[np.isfinite(replicates)]
    assert (estimate.low, estimate.high) == tuple(np.quantile(defined, [0.025, 0.975]))


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
