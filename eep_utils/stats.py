"""Uncertainty and significance: every number the book reports comes with one of these."""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
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
    undefined: int = 0  # resamples on which the statistic was undefined, left out of the interval

    def __str__(self) -> str:
        if not np.isfinite(self.value):
            return "undefined"
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
    interval = scipy_stats.binomtest(successes, n).proportion_ci(confidence_level=level, method="wilson")
    return Estimate(successes / n, float(interval.low), float(interval.high), n, level)


def bootstrap_ci(statistic, *samples, n_resamples: int = 2000, level: float = 0.95, seed: int = 0,
                 vectorized: bool = False) -> Estimate:
    """Percentile bootstrap of `statistic(*samples)`, resampling the items (rows) jointly (`vectorized`: the
    statistic takes an `axis` argument, as np.mean does, and scipy resamples all at once).

    Percentile, not BCa: BCa's acceleration comes from a jackknife, which is undefined wherever the
    statistic is undefined on a leave-one-out sample (a rank correlation of sparse rewards, chapter 05),
    and the persona matrix's joint intervals (personality.agreement) are percentile too, so every
    bootstrap interval in the book is of one kind."""
    samples = [np.asarray(s) for s in samples]
    with warnings.catch_warnings():
        # scipy's interval is NaN when the statistic is undefined on some resample (Spearman's rho of a
        # resample where one variable is constant); those resamples are left out below instead.
        warnings.simplefilter("ignore", scipy_stats.DegenerateDataWarning)
        result = scipy_stats.bootstrap(samples, statistic, paired=True, vectorized=vectorized, n_resamples=n_resamples,
                                       confidence_level=level, method="percentile", rng=np.random.default_rng(seed))
    low, high = result.confidence_interval
    replicates = result.bootstrap_distribution
    undefined = int(np.sum(~np.isfinite(replicates)))
    if undefined:
        low, high = percentile_interval(replicates, level)
    return Estimate(float(statistic(*samples)), float(low), float(high), len(samples[0]), level, undefined)


def percentile_interval(replicates, level: float = 0.95) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates, those where the statistic is undefined (NaN) left
    out; NaN when it is undefined on every one. Report how many were left out with the interval."""
    replicates = np.asarray(replicates, dtype=float)
    defined = replicates[np.isfinite(replicates)]
    if not len(defined):
        return math.nan, math.nan
    low, high = np.quantile(defined, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def cluster_bootstrap_ci(statistic, *samples, clusters, n_resamples: int = 2000, level: float = 0.95,
                         seed: int = 0) -> Estimate:
    """Percentile bootstrap of `statistic(*samples)` that resamples whole clusters, each sample on its own.

    Repeated deterministic decisions are not independent evidence: episodes that replay the same prompts
    (a temperature-0 teacher from starting states it describes alike) form one cluster, and it is the
    clusters that are drawn with replacement. `clusters[i]` labels the rows of `samples[i]`. The
    estimate's n is the number of clusters in all."""
    samples = [np.asarray(sample) for sample in samples]
    groups = []
    for sample, labels in zip(samples, clusters, strict=True):
        labels = np.asarray(labels)
        if len(labels) != len(sample):
            raise ValueError("every sample needs one cluster label per row")
        groups.append([np.flatnonzero(labels == label) for label in np.unique(labels)])
    rng = np.random.default_rng(seed)
    replicates = np.empty(n_resamples)
    for number in range(n_resamples):
        drawn = [np.concatenate([members[i] for i in rng.integers(0, len(members), len(members))])
                 for members in groups]
        replicates[number] = statistic(*(sample[rows] for sample, rows in zip(samples, drawn)))
    low, high = percentile_interval(replicates, level)
    return Estimate(float(statistic(*samples)), low, high, sum(len(members) for members in groups), level,
                    int(np.sum(~np.isfinite(replicates))))


def welch_test(a, b) -> float:
    """Two-sided p-value that two sets of episode returns have the same mean.

    Two samples with no spread at all (a controller that always reaches 500) leave the t statistic
    undefined: equal constants give p = 1, different constants p = 0."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return 1.0 if a[0] == b[0] else 0.0
    with warnings.catch_warnings():
        # One sample with no spread (a controller always at 500) is exact, not "nearly identical" noise:
        # scipy's precision-loss warning about its moments does not apply to Welch's test against it.
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        return float(scipy_stats.ttest_ind(a, b, equal_var=False).pvalue)


def mann_whitney(a, b) -> float:
    """Two-sided p-value that one set of returns tends to exceed the other (no normality needed)."""
    return float(scipy_stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def above_zero(*estimates: Estimate) -> bool | None:
    """Whether every effect lies above zero: True when every 95% CI does, False when some CI lies wholly at
    or below zero, None (inconclusive) when a CI spans zero or an estimate is undefined (NaN)."""
    if any(not (np.isfinite(e.low) and np.isfinite(e.high)) for e in estimates):
        return None
    if all(e.low > 0 for e in estimates):
        return True
    if any(e.high <= 0 for e in estimates):
        return False
    return None


def power_curve(detected: Callable[[float, int], bool], strengths: Sequence[float], replicates: int) -> list[dict]:
    """How often a test detects an effect of known strength: for each strength s, the share of
    `replicates` simulations (`detected(s, replicate)`, each with its own seed) that it detects, with a
    Wilson 95% CI. The positive control that turns a null result into a bound."""
    rows = []
    for strength in strengths:
        hits = sum(bool(detected(float(strength), replicate)) for replicate in range(replicates))
        share = proportion_ci(hits, replicates)
        rows.append({"strength": float(strength), "detected": hits, "replicates": replicates,
                     "power": share.value, "power_low": share.low, "power_high": share.high})
    return rows


def minimum_detectable(curve: Sequence[dict], power: float = 0.8) -> float:
    """The smallest strength whose measured power reaches `power`, above which every tried strength does
    too; NaN when no tried strength does (the effect the test would find is beyond the range tried)."""
    reached = [row["power"] >= power for row in curve]
    for number, row in enumerate(curve):
        if all(reached[number:]):
            return row["strength"]
    return math.nan


def minimum_detectable_ci(strengths: Sequence[float], detections, power: float = 0.8, n_resamples: int = 1000,
                          level: float = 0.95, seed: int = 0) -> Estimate:
    """`minimum_detectable` with a percentile bootstrap interval over the simulation replicates (the unit).

    `detections[i, r]` says whether replicate r detected strength `strengths[i]`; replicates are resampled
    whole, across strengths (a replicate uses the same seeds at every strength). A resample in which no
    strength reaches `power` has its minimum beyond the range tried: it counts as above every strength, is
    counted as undefined, and an interval end that falls there is NaN (beyond the range tried)."""
    detections = np.asarray(detections, dtype=float)
    strengths = [float(s) for s in strengths]
    if detections.shape[0] != len(strengths):
        raise ValueError("detections needs one row per strength")

    def smallest(hits):
        return minimum_detectable([{"strength": s, "power": p} for s, p in zip(strengths, hits.mean(axis=1))], power)

    draws = np.random.default_rng(seed).integers(0, detections.shape[1], (n_resamples, detections.shape[1]))
    replicates = np.array([smallest(detections[:, rows]) for rows in draws])
    beyond = ~np.isfinite(replicates)
    # The minimum is one of the strengths tried (or beyond them): the interval's ends are too, not interpolated.
    low, high = np.quantile(np.where(beyond, np.inf, replicates), [(1 - level) / 2, (1 + level) / 2],
                            method="inverted_cdf")
    return Estimate(smallest(detections), float(low) if np.isfinite(low) else math.nan,
                    float(high) if np.isfinite(high) else math.nan, detections.shape[1], level, int(beyond.sum()))
