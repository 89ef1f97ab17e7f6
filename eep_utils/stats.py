"""Uncertainty and significance: every number the book reports comes with one of these."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% (or `level`) confidence interval and sample size."""

    value: float
    low: float
    high: float
    n: int
    level: float = 0.95

    def __str__(self) -> str:
        return f"{self.value:.2f} [{self.low:.2f}, {self.high:.2f}]"

    def as_dict(self, prefix: str = "") -> dict:
        return {f"{prefix}mean": self.value, f"{prefix}ci_low": self.low, f"{prefix}ci_high": self.high, f"{prefix}n": self.n}


def mean_ci(values, level: float = 0.95) -> Estimate:
    """Mean with a Student-t interval (episode returns: many independent episodes)."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 0:
        raise ValueError("no values to average")
    mean = float(values.mean())
    if n == 1 or np.all(values == values[0]):
        return Estimate(mean, mean, mean, n, level)
    half = scipy_stats.t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / np.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n, level)


def proportion_ci(successes: int, n: int, level: float = 0.95) -> Estimate:
    """Wilson score interval for a proportion (agreement rates, action balance)."""
    if n == 0:
        raise ValueError("no trials")
    z = scipy_stats.norm.ppf(0.5 + level / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n, level)


def bootstrap_ci(statistic, *samples, n_resamples: int = 2000, level: float = 0.95, seed: int = 0) -> Estimate:
    """Percentile bootstrap of `statistic(*samples)`, resampling the items (rows) jointly."""
    samples = [np.asarray(s) for s in samples]
    n = len(samples[0])
    if any(len(s) != n for s in samples):
        raise ValueError("paired samples must have the same length")
    rng = np.random.default_rng(seed)
    point = float(statistic(*samples))
    replicates = np.empty(n_resamples)
    for i in range(n_resamples):
        rows = rng.integers(0, n, n)
        replicates[i] = statistic(*(s[rows] for s in samples))
    replicates = replicates[np.isfinite(replicates)]
    low, high = np.quantile(replicates, [(1 - level) / 2, (1 + level) / 2])
    return Estimate(point, float(low), float(high), n, level)


def welch_test(a, b) -> float:
    """Two-sided p-value that two sets of episode returns have the same mean.

    Two samples with no spread at all (a controller that always reaches 500) leave the t statistic
    undefined: equal constants give p = 1, different constants p = 0."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return 1.0 if a[0] == b[0] else 0.0
    return float(scipy_stats.ttest_ind(a, b, equal_var=False).pvalue)


def mann_whitney(a, b) -> float:
    """Two-sided p-value that one set of returns tends to exceed the other (no normality needed)."""
    return float(scipy_stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def permutation_p_value(observed: float, null_draws) -> float:
    """One-sided p-value of `observed` against draws under the null, with the +1 correction."""
    null_draws = np.asarray(null_draws, dtype=np.float64)
    return float((1 + np.sum(null_draws >= observed)) / (1 + len(null_draws)))
