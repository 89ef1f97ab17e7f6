"""Persona against wording, like with like: chapter 06's contrasts within one template, pooled over templates.

Every persona is asked in two wordings within each template. The **persona index** of a square matrix whose
rows are the personas in one wording (or their students) and whose columns are the same personas in a
wording (first or second) is its diagonal mean minus its off-diagonal mean:

- judges: rows the first wording's P(cute), columns the second wording's, cells Spearman's ρ over pictures.
  The index is ρ(persona, its rewording) − mean ρ(persona, other personas' rewordings): positive when a
  persona's judgments resemble its own rewording more than other personas' rewordings. Both sides of every
  comparison changed wording, and no comparison crosses templates (a template shared by one side only
  makes judges alike for a reason that is not the persona);
- students: rows the students of the first wording, columns the judges of the first wording (the
  persona-extraction index) or of the second (the wording control).

Each index is computed within a template and then averaged over templates. Its test permutes which column
goes with which row (the matching), each template on its own; its interval resamples the pictures, and for
students, trained over several splits, pools every split's resamples so that the spread over splits is part
of it. Resamples on which an index is undefined (one side without spread) are left out and counted.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import reduce
from typing import Mapping, Sequence

import numpy as np
from scipy.stats import rankdata

from eep_utils.stats import Estimate, percentile_interval

# Matchings are enumerated when there are at most this many (all templates together), else drawn.
MATCHINGS = 20_000


def persona_indices(values) -> np.ndarray:
    """Diagonal mean minus off-diagonal mean of square matrices (..., k, k), k ≥ 2."""
    values = np.asarray(values, float)
    k = values.shape[-1]
    if values.shape[-2] != k or k < 2:
        raise ValueError(f"a persona index needs square matrices of at least 2 × 2, got {values.shape[-2:]}")
    diagonal = np.trace(values, axis1=-2, axis2=-1)
    return diagonal / k - (values.sum(axis=(-2, -1)) - diagonal) / (k * k - k)


def resampled_rows(n: int, n_resamples: int, seed: int) -> np.ndarray:
    """(n_resamples + 1, n) picture indices: row 0 the pictures as they are, then bootstrap resamples."""
    return np.vstack([np.arange(n), np.random.default_rng(seed).integers(0, n, (n_resamples, n))])


def rank_correlations(first: np.ndarray, second: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Spearman's ρ of every row of `first` (k, n) with every row of `second` (m, n) on each sample of
    pictures in `rows` (R, n): (R, k, m). NaN where one side has no spread."""
    def centred(values):
        ranks = rankdata(np.asarray(values, float)[:, rows], axis=-1)
        return ranks - ranks.mean(axis=-1, keepdims=True)

    a, b = centred(first), centred(second)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.einsum("irn,jrn->rij", a, b)
                / np.sqrt(np.einsum("irn,irn->ri", a, a)[:, :, None] * np.einsum("jrn,jrn->rj", b, b)[:, None, :]))


@dataclass(frozen=True)
class MatchingTest:
    """One-sided: the true matching gives a higher pooled persona index than other matchings."""

    p_value: float
    n_matchings: int
    exact: bool  # every combination of matchings enumerated (p ≥ 1 / n_matchings)


def matching_test(matrices: Sequence[np.ndarray], seed: int = 0, limit: int = MATCHINGS) -> MatchingTest:
    """Permutation test of the persona index averaged over `matrices` (one per template), permuting which
    column meets which row in each matrix independently (templates are strata).

    A stratified test is not one of scipy's permutation types, and the null is small enough to enumerate:
    each matrix's index depends on a matching only through the permuted trace, so every matching's index is
    computed at once, and every combination over templates when there are at most `limit` of them (else
    `limit` random combinations, the observed counted once more)."""
    matrices = [np.asarray(m, float) for m in matrices]
    observed = float(np.mean(persona_indices(np.stack(matrices))))
    if not math.isfinite(observed):
        return MatchingTest(math.nan, 0, exact=False)
    k = len(matrices[0])
    orders = np.array(list(itertools.permutations(range(k))))
    indices = []
    for m in matrices:
        traces = m[np.arange(k), orders].sum(axis=1)
        indices.append(traces / k - (m.sum() - traces) / (k * k - k))
    tolerance = 1e-12  # the observed matching's own index, recomputed, must count as "at least as high"
    if len(orders) ** len(matrices) <= limit:
        null = reduce(lambda a, b: np.add.outer(a, b).ravel(), indices) / len(matrices)
        return MatchingTest(float(np.mean(null >= observed - tolerance)), len(null), exact=True)
    rng = np.random.default_rng(seed)
    null = np.mean([values[rng.integers(0, len(values), limit)] for values in indices], axis=0)
    return MatchingTest(float((1 + np.sum(null >= observed - tolerance)) / (1 + limit)), limit + 1, exact=False)


@dataclass
class JudgeContrast:
    """The judges' persona index (ρ over pictures), within each template and pooled, with its matching test."""

    pooled: Estimate
    test: MatchingTest
    by_template: dict[str, Estimate] = field(default_factory=dict)
    tests: dict[str, MatchingTest] = field(default_factory=dict)
    matrices: dict[str, np.ndarray] = field(default_factory=dict)  # ρ(first wording i, second wording j)


def judge_contrast(first: Mapping[str, np.ndarray], second: Mapping[str, np.ndarray], n_resamples: int,
                   seed: int, level: float = 0.95) -> JudgeContrast:
    """The judges' like-with-like persona index. `first[template]` and `second[template]` are (k, n): each
    persona's P(cute) over the same n pictures in the first and the second wording, personas in one order.
    The interval resamples pictures (the same resample in every template: every judge saw the same
    pictures); the test is `matching_test` on the point matrices."""
    n = np.shape(next(iter(first.values())))[1]
    rows = resampled_rows(n, n_resamples, seed)
    correlations = {template: rank_correlations(first[template], second[template], rows) for template in first}
    indices = {template: persona_indices(values) for template, values in correlations.items()}
    pooled = np.mean(list(indices.values()), axis=0)

    def estimate(values):
        low, high = percentile_interval(values[1:], level)
        return Estimate(float(values[0]), low, high, n, level, int(np.sum(~np.isfinite(values[1:]))))

    return JudgeContrast(
        pooled=estimate(pooled),
        test=matching_test([values[0] for values in correlations.values()], seed),
        by_template={template: estimate(values) for template, values in indices.items()},
        tests={template: matching_test([values[0]], seed) for template, values in correlations.items()},
        matrices={template: values[0] for template, values in correlations.items()})


def pooled_over_splits(per_split, n: int, level: float = 0.95) -> Estimate:
    """An estimate from several splits: `per_split` is (splits, 1 + resamples), column 0 each split's value
    and the rest its bootstrap resamples. The value is the mean over splits; the interval is the percentile
    interval of every split's resamples pooled, so it holds the spread over splits as well as over pictures;
    `n` is the pictures each split holds out; the resamples where the statistic is undefined are counted."""
    per_split = np.asarray(per_split, float)
    low, high = percentile_interval(per_split[:, 1:].ravel(), level)
    return Estimate(float(per_split[:, 0].mean()), low, high, n, level, int(np.sum(~np.isfinite(per_split[:, 1:]))))


STUDENT_CONTRASTS = ("index", "wording", "generic")


def student_contrasts(matrix, first: Sequence[str], second: Sequence[str], control: str | None) -> dict:
    """The students' contrasts on one template's agreement matrix (`personality.agreement.AgreementMatrix`,
    students × judges), each as (1 + resamples,) values: the point, then the matrix's bootstrap resamples.

    `first` names the personas' first-wording judges (and their students, the matrix's rows), `second` the
    same personas' second-wording judges, in the same order; `control` the neutral control's judge in the
    first wording (None: no generic-habit contrast).

    index    persona-extraction index: AUC(student p, judge p) − mean AUC(student p, judge q), first wording
    wording  like with like: AUC(student p, judge p reworded) − mean AUC(student p, judge q reworded)
    generic  AUC(student p, judge p) − AUC(student p, the control judge), same template and wording
    """
    values = np.concatenate([matrix.value[None], matrix.replicates])
    rows = [matrix.students.index(label) for label in first]

    def block(columns):
        return values[:, rows][:, :, [matrix.teachers.index(label) for label in columns]]

    own = block(first)
    contrasts = {"index": persona_indices(own), "wording": persona_indices(block(second))}
    if control is not None:
        contrasts["generic"] = (np.trace(own, axis1=1, axis2=2) / len(first) - block([control])[:, :, 0].mean(axis=1))
    return contrasts
