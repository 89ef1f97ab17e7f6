"""How fast the game of personality's pictures and students are: images per second, against baselines.

    python benchmarks/bench_creatures.py           # 3,000 creatures, as the full book
    python benchmarks/bench_creatures.py --quick   # 300 creatures

Measures, in one run: drawing creatures in batches (vectorised over each body plan) against drawing
them one at a time (the baseline); pixel featurisation; training every student the chapter trains
(six teachers × two kinds, plus six label-shuffled controls). The brief's budget for generating,
featurising and training on 3,000 creatures is 3 minutes on 2 cores; the ratio to it is printed.
Also: one XGBoost student fitted with two threads against one thread (the students use one).
Students are trained on tastes defined from the traits (timing only: no judge is run here).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from eep_utils.personality.creatures import (
    generate_creatures,
    render_creatures,
    sample_traits,
)
from eep_utils.personality.students import (
    STUDENT_KINDS,
    PixelFeatures,
    fit_student,
    make_student,
)

BUDGET_SECONDS_FOR_3000 = 180.0
N_TEACHERS = 6  # five personas and the no-persona control, as in chapter 06
N_SHUFFLES = 2  # label-shuffled students per teacher and kind, as chapter 06's full build


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 creatures instead of 3,000")
    parser.add_argument("--seed", type=int, default=2023)
    args = parser.parse_args()
    n = 300 if args.quick else 3000
    n_one_by_one = 100 if args.quick else 300

    traits = sample_traits(n, args.seed)
    _, batched_seconds = timed(render_creatures, traits)
    _, one_by_one_seconds = timed(lambda: [render_creatures(traits.iloc[[i]]) for i in range(n_one_by_one)])
    batched_rate, one_by_one_rate = n / batched_seconds, n_one_by_one / one_by_one_seconds
    print(f"drawing, batched by body plan: {batched_rate:8.0f} images/s ({n} creatures)")
    print(f"drawing, one at a time:        {one_by_one_rate:8.0f} images/s ({n_one_by_one} creatures)  "
          f"→ batched is {batched_rate / one_by_one_rate:.1f}× faster")

    creatures, generate_seconds = timed(generate_creatures, n, args.seed)
    print(f"generating (traits, captions, pictures): {n / generate_seconds:8.0f} images/s")
    features, feature_seconds = timed(PixelFeatures().transform, creatures.images)
    print(f"pixel features {features.shape[1]}-d:              {n / feature_seconds:8.0f} images/s")

    # Stand-in tastes, for timing: each "teacher" likes a different mix of body plans.
    rng = np.random.default_rng(args.seed)
    plans = creatures.traits["body_plan"].to_numpy()
    tastes = [np.isin(plans, rng.choice(np.unique(plans), 4, replace=False)).astype(float) for _ in range(N_TEACHERS)]
    train = np.arange(n) < 2 * n // 3

    def train_all():
        for verdicts in tastes:
            for kind in STUDENT_KINDS:
                fit_student(kind, features[train], verdicts[train], args.seed)
                for repeat in range(N_SHUFFLES):
                    fit_student(kind, features[train], verdicts[train], args.seed + repeat, shuffle_labels=True)

    _, training_seconds = timed(train_all)
    n_students = N_TEACHERS * len(STUDENT_KINDS) * (1 + N_SHUFFLES)
    print(f"training {n_students} students on {train.sum()} pictures: {training_seconds:.1f} s "
          f"({training_seconds / n_students:.2f} s per student)")

    labels = tastes[0][train].astype(int)
    _, one_thread = timed(make_student("XGBoost", args.seed).fit, features[train], labels)
    _, two_threads = timed(make_student("XGBoost", args.seed).set_params(n_jobs=2).fit, features[train], labels)
    print(f"one XGBoost student: 1 thread {one_thread:.2f} s, 2 threads {two_threads:.2f} s "
          f"→ 1 thread is {two_threads / one_thread:.1f}× faster")

    total = generate_seconds + feature_seconds + training_seconds
    budget = BUDGET_SECONDS_FOR_3000 * n / 3000
    print(f"generate + featurise + train, {n} creatures: {total:.1f} s = {n / total:.0f} images/s end to end; "
          f"budget {budget:.0f} s → {total / budget:.2f} of the budget")


if __name__ == "__main__":
    main()
