"""Does each student agree with its own teacher more than with the others? The persona × persona matrix.

Cell (student i, teacher j) measures how well student i's predicted probability of "cute" on held-out
pictures tracks teacher j's verdicts: ROC-AUC against teacher j's cute/not-cute, Spearman correlation
against teacher j's 0–10 score. All cells are bootstrapped over the same resampled pictures, so the
cells' intervals and the persona-extraction index (mean of the diagonal minus mean of the rest) come
from one joint resampling. A resample on which a statistic is undefined (its pictures all carry one
label of a teacher, or one side's values are all equal) is left out of that statistic's interval and
counted (`AgreementMatrix.undefined`, `ExtractionTest.undefined`). The index's significance is tested
by permuting which student is matched with which teacher: if students carried no persona, any matching
would do as well as the true one.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import permutation_test, rankdata

from eep_utils.stats import Estimate

# An index of 0.46 must not read as a sub-chance AUC: it is a difference of two AUCs.
INDEX_MEANING = "AUC own − AUC others; 0 = no persona carried"
MEASURES = ("ROC-AUC", "Spearman")


def _auc_from_ranks(ranks: np.ndarray, labels: np.ndarray) -> np.ndarray:
    positives = labels.sum(axis=1)
    negatives = labels.shape[1] - positives
    rank_sum = np.where(labels, ranks, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def _centred_ranks(values: np.ndarray) -> np.ndarray:
    ranks = rankdata(np.atleast_2d(values), axis=1)
    return ranks - ranks.mean(axis=1, keepdims=True)


def _interval(replicates: np.ndarray, level: float, axis=None) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap replicates, resamples where the measure is undefined left out; NaN
    where it is undefined on every resample (a cell against a judge with one label: shown as undefined)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        return np.nanquantile(replicates, [(1 - level) / 2, (1 + level) / 2], axis=axis)


def auc_by_row(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """ROC-AUC of each row's scores against its 0/1 labels (ties count half); NaN where a row has one class."""
    return _auc_from_ranks(rankdata(np.atleast_2d(scores), axis=1), np.atleast_2d(labels).astype(bool))


@dataclass
class AgreementMatrix:
    """One measure for every (student, teacher) pair: point values, percentile CIs, bootstrap replicates."""

    measure: str
    students: list[str]
    teachers: list[str]
    value: np.ndarray        # (students, teachers)
    low: np.ndarray
    high: np.ndarray
    replicates: np.ndarray   # (resamples, students, teachers)
    n: int                   # held-out pictures

    @property
    def undefined(self) -> int:
        """Resamples on which at least one cell is undefined: at most this many are left out of any interval
        built on this matrix (a cell's, the extraction index's, a contrast's). One cell's own count is
        `np.isnan(replicates[:, i, j]).sum()`."""
        return int(np.isnan(self.replicates).any(axis=(1, 2)).sum())

    def cell(self, student: str, teacher: str) -> Estimate:
        i, j = self.students.index(student), self.teachers.index(teacher)
        return Estimate(float(self.value[i, j]), float(self.low[i, j]), float(self.high[i, j]), self.n)


def agreement_matrices(student_probabilities: dict[str, np.ndarray], teacher_verdicts: dict[str, np.ndarray],
                       teacher_scores: dict[str, np.ndarray], n_resamples: int = 2000, seed: int = 0,
                       level: float = 0.95, measures=MEASURES) -> dict[str, AgreementMatrix]:
    """ROC-AUC and Spearman matrices (or those of `measures`), students × teachers, with joint bootstrap CIs
    over the pictures."""
    columns = [*student_probabilities.values(), *teacher_verdicts.values(), *teacher_scores.values()]
    n = len(columns[0])
    if any(len(c) != n for c in columns):
        raise ValueError("every student and teacher must give one value per held-out picture")
    if not all(np.isfinite(np.asarray(c, float)).all() for c in columns):
        raise ValueError("agreement needs a verdict and a score for every picture: drop unparsed judgments first")
    students, teachers = list(student_probabilities), list(teacher_verdicts)
    if list(teacher_scores) != teachers:
        raise ValueError("teacher_verdicts and teacher_scores must name the same teachers in the same order")
    unknown = set(measures) - set(MEASURES)
    if unknown:
        raise ValueError(f"unknown agreement measure(s) {sorted(unknown)}; known: {MEASURES}")

    # Not scipy.stats.bootstrap: the cells and the extraction index need one resampling shared by all
    # (the index's interval is joint), ranks computed once per sample make it fast, and a cell where a
    # resample holds a single class would make scipy's interval NaN; nanquantile leaves that resample out.
    # Row 0 of every sample is the original order (the point estimate); the rest are bootstrap resamples.
    rows = np.vstack([np.arange(n), np.random.default_rng(seed).integers(0, n, (n_resamples, n))])
    # Rank each student's and each teacher's values once per sample; every cell then only combines ranks.
    student_ranks = {s: rankdata(np.asarray(p, float)[rows], axis=1) for s, p in student_probabilities.items()}
    cells = {}
    if "ROC-AUC" in measures:
        labels = np.stack([np.asarray(teacher_verdicts[t], float)[rows].astype(bool) for t in teachers])
        cells["ROC-AUC"] = np.stack([_auc_against_each(student_ranks[s], labels) for s in students], axis=1)
    if "Spearman" in measures:
        teacher_centred = np.stack([_centred_ranks(np.asarray(teacher_scores[t], float)[rows]) for t in teachers])
        student_centred = {s: r - r.mean(axis=1, keepdims=True) for s, r in student_ranks.items()}
        cells["Spearman"] = np.stack([_spearman_against_each(student_centred[s], teacher_centred) for s in students],
                                     axis=1)
    results = {}
    for measure, values in cells.items():
        replicates = values[1:]
        low, high = _interval(replicates, level, axis=0)
        results[measure] = AgreementMatrix(measure, students, teachers, values[0], low, high, replicates, n)
    return results


def _auc_against_each(ranks: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """ROC-AUC of one student's ranks (samples, n) against each teacher's labels (teachers, samples, n):
    (samples, teachers)."""
    positives = labels.sum(axis=2)
    negatives = labels.shape[2] - positives
    rank_sum = np.einsum("sn,tsn->ts", ranks, labels)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((rank_sum - positives * (positives + 1) / 2) / (positives * negatives)).T


def _spearman_against_each(centred: np.ndarray, teachers: np.ndarray) -> np.ndarray:
    """Spearman's ρ of one student's centred ranks (samples, n) with each teacher's (teachers, samples, n)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.einsum("sn,tsn->ts", centred, teachers)
                / np.sqrt((centred * centred).sum(axis=1)[None] * (teachers * teachers).sum(axis=2))).T


def extraction_index(values: np.ndarray) -> float:
    """Mean of the diagonal minus mean of the off-diagonal cells of a square matrix."""
    values = np.asarray(values, float)
    k = len(values)
    if values.shape != (k, k) or k < 2:
        raise ValueError(f"the extraction index needs a square matrix of at least 2 × 2, got {values.shape}")
    diagonal = np.trace(values)
    return float(diagonal / k - (values.sum() - diagonal) / (k * k - k))


@dataclass
class ExtractionTest:
    index: Estimate          # with a bootstrap CI
    p_value: float           # one-sided: the true matching beats matchings of students to other teachers
    n_permutations: int
    exact: bool              # every matching enumerated (p ≥ 1 / k!)
    undefined: int = 0       # bootstrap resamples on which the index is undefined, left out of its interval


def extraction_test(matrix: AgreementMatrix, personas: list[str], n_permutations: int = 10000, seed: int = 0,
                    level: float = 0.95) -> ExtractionTest:
    """The persona-extraction index over `personas` (both students and teachers), its CI and permutation p-value.

    Every matching is enumerated when there are at most `n_permutations` of them (k! for k personas);
    otherwise `n_permutations` random ones are drawn."""
    rows = [matrix.students.index(p) for p in personas]
    columns = [matrix.teachers.index(p) for p in personas]
    square = matrix.value[np.ix_(rows, columns)]
    squares = matrix.replicates[:, rows][:, :, columns]
    k = len(personas)
    diagonals = np.trace(squares, axis1=1, axis2=2)
    per_resample = diagonals / k - (squares.sum(axis=(1, 2)) - diagonals) / (k * k - k)
    low, high = _interval(per_resample, level)
    estimate = Estimate(extraction_index(square), float(low), float(high), matrix.n, level)
    undefined = int(np.isnan(per_resample).sum())

    if np.isnan(square).any():  # an undefined agreement (one class held out) leaves the index untestable
        return ExtractionTest(estimate, math.nan, 0, exact=False, undefined=undefined)

    # The index depends on a matching only through its trace: permute which student row meets which teacher.
    def trace(order, axis=-1):
        return square[order, np.arange(k)].sum(axis=axis)

    test = permutation_test((np.arange(k),), trace, permutation_type="pairings", vectorized=True,
                            n_resamples=n_permutations, alternative="greater", rng=np.random.default_rng(seed))
    return ExtractionTest(estimate, float(test.pvalue), len(test.null_distribution),
                          exact=math.factorial(k) <= n_permutations, undefined=undefined)


def offdiagonal_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two square matrices' off-diagonal cells: do students disagree as teachers do?"""
    a, b = np.asarray(a, float), np.asarray(b, float)
    off = ~np.eye(len(a), dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN, not a warning, when one side has no spread
        return float(np.corrcoef(a[off], b[off])[0, 1])


def cell_contrast(matrix: AgreementMatrix, plus: list[tuple[str, str]], minus: list[tuple[str, str]],
                  level: float = 0.95) -> Estimate:
    """Mean of the `plus` cells minus mean of the `minus` cells, (student, teacher) pairs, with a percentile CI
    from the matrix's joint bootstrap (the same resampled pictures for every cell)."""
    def mean_of(cells, values):
        return np.mean([values[..., matrix.students.index(s), matrix.teachers.index(t)] for s, t in cells], axis=0)

    per_resample = mean_of(plus, matrix.replicates) - mean_of(minus, matrix.replicates)
    low, high = _interval(per_resample, level)
    return Estimate(float(mean_of(plus, matrix.value) - mean_of(minus, matrix.value)), float(low), float(high),
                    matrix.n, level)
