"""Vectorised evaluation vs frame-by-frame play, for the same XGBoost student, in one run.

    python benchmarks/bench_evaluation.py            # 10,000 vectorised episodes, 200 frame-by-frame
    python benchmarks/bench_evaluation.py --quick    # 2,000 and 20

Prints env steps per second of both, their ratio (target >= 100x) and the time for the vectorised
evaluation of the student (target < 10 s for 10,000 episodes on 2 cores). The student is the 2023
XGBoost student when the 2023 recordings are at hand, else the same model class trained on LQR
demonstrations.
"""
import argparse
import time

import numpy as np

from eep_utils.cartpole.embodiment import STEPS_PER_DECISION_2023
from eep_utils.cartpole.evaluation import play_episode_from, play_episodes
from eep_utils.cartpole.policies import LQRController
from eep_utils.cartpole.students import OriginalXGBoostStudent
from eep_utils.study2023.fetch import OriginalStudyUnavailable
from eep_utils.study2023.recordings import locate


def the_student():
    try:
        return locate().published_student(), "the published 2023 XGBoost student"
    except OriginalStudyUnavailable:
        demos = play_episodes(LQRController(), 20, seed=0, steps_per_decision=2, record=True)
        return OriginalXGBoostStudent().fit(demos.observations, demos.actions), "XGBoost (2023 settings) on LQR demos"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (2,000 vs 20 episodes)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n_vectorised, n_reference = (2_000, 20) if args.quick else (10_000, 200)
    student, which = the_student()
    print(f"student: {which}; one decision held for {STEPS_PER_DECISION_2023} frames")

    start = time.perf_counter()
    rollouts = play_episodes(student.predict, n_vectorised, args.seed, steps_per_decision=STEPS_PER_DECISION_2023)
    vectorised_seconds = time.perf_counter() - start
    vectorised_rate = rollouts.returns.sum() / vectorised_seconds

    states = rollouts.initial_states[:n_reference]
    start = time.perf_counter()
    reference_returns = [int(play_episode_from(student.predict, state, STEPS_PER_DECISION_2023).returns()[0])
                         for state in states]
    reference_seconds = time.perf_counter() - start
    reference_rate = np.sum(reference_returns) / reference_seconds
    if not np.array_equal(reference_returns, rollouts.returns[:n_reference]):
        raise SystemExit("the two evaluations disagree on the same initial states")

    print(f"frame by frame, one-row predictions: {n_reference:>6} episodes, {np.sum(reference_returns):>8} steps, "
          f"{reference_seconds:7.2f} s, {reference_rate:>12,.0f} steps/s")
    print(f"vectorised, batched predictions:     {n_vectorised:>6} episodes, {rollouts.returns.sum():>8} steps, "
          f"{vectorised_seconds:7.2f} s, {vectorised_rate:>12,.0f} steps/s")
    print(f"speed-up: {vectorised_rate / reference_rate:,.0f}x (target >= 100x)")
    print(f"time for {n_vectorised:,} evaluation episodes: {vectorised_seconds:.2f} s"
          + (" (target < 10 s)" if n_vectorised == 10_000 else ""))
    print(f"mean return {rollouts.summary()}")


if __name__ == "__main__":
    main()
