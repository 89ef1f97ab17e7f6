"""Students over several splits and seeds, and their agreement with every judge on each split's held-out pictures.

One split of the pictures and one seed for its students say little on their own: a student's agreement with
its judge moves with which pictures it was trained on and with its own random state. So each of several
splits has its own seed (for the split, its students and its bootstrap), and every statistic is computed on
each split and then pooled (`personality.contrasts.pooled_over_splits`).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Hashable, Mapping, Sequence

import numpy as np

from eep_utils.personality.agreement import MEASURES, AgreementMatrix, agreement_matrices
from eep_utils.personality.students import cute_probability, fit_student, held_out_split

# A "student" that is its judge: its own P(cute), the ceiling a perfect copy would reach.
JUDGE_ITSELF = "the judge itself"
# XGBoost and scikit-learn release the GIL while they fit, so two fits at once use both cores of a 2-core
# machine (each fit itself keeps one thread: see `students.make_student`).
FIT_THREADS = min(2, os.cpu_count() or 1)


def derived_seed(*keys: int) -> int:
    """A seed for one purpose (a split, a replicate) from the chapter's seed and the purpose's numbers."""
    return int(np.random.SeedSequence([int(key) for key in keys]).generate_state(1)[0])


@dataclass(frozen=True)
class Split:
    """Which pictures train and which test (sorted row numbers), and the seed of its students and bootstrap."""

    train: np.ndarray
    test: np.ndarray
    seed: int


def make_splits(n_pictures: int, n_splits: int, test_fraction: float, seed: int) -> list[Split]:
    splits = []
    for number in range(n_splits):
        split_seed = derived_seed(seed, number)
        train, test = held_out_split(np.arange(n_pictures), test_fraction, split_seed)
        splits.append(Split(train, test, split_seed))
    return splits


def predict(kind: str, split: Split, features: np.ndarray, labels: np.ndarray, p_cute: np.ndarray,
            shuffle_labels: bool = False, seed_offset: int = 0) -> np.ndarray:
    """A student's P(cute) on the split's held-out pictures, trained on the split's training pictures; for
    `JUDGE_ITSELF`, the judge's own P(cute) there."""
    if kind == JUDGE_ITSELF:
        return np.asarray(p_cute, float)[split.test]
    student = fit_student(kind, features[split.train], labels[split.train], split.seed + seed_offset,
                          shuffle_labels=shuffle_labels)
    return cute_probability(student, features[split.test])


def agreement_on_split(predictions: Mapping[str, np.ndarray], judges: Sequence[str],
                       labels: Mapping[str, np.ndarray], p_cute: Mapping[str, np.ndarray], split: Split,
                       n_resamples: int, measures=MEASURES) -> dict[str, AgreementMatrix]:
    """Every student (`predictions`, on the held-out pictures) against every one of `judges`: ROC-AUC against
    the judge's labels and Spearman's ρ with its P(cute), bootstrapped over the held-out pictures with the
    split's seed (the same resamples for every template and kind of student on this split)."""
    return agreement_matrices(dict(predictions), {judge: np.asarray(labels[judge])[split.test] for judge in judges},
                              {judge: np.asarray(p_cute[judge])[split.test] for judge in judges},
                              n_resamples, split.seed, measures=measures)


def all_at_once(jobs: Mapping[Hashable, Callable[[], np.ndarray]]) -> dict:
    """Every job's result, by its key, the jobs run `FIT_THREADS` at a time. Each student has its own seed,
    so the results do not depend on the order in which the jobs finish."""
    with ThreadPoolExecutor(max_workers=FIT_THREADS) as pool:
        futures = {key: pool.submit(job) for key, job in jobs.items()}
        return {key: future.result() for key, future in futures.items()}
