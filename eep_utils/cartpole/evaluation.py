"""Closed-loop evaluation on CartPole-v1: many episodes at once, one batched policy call per decision.

A policy is any callable mapping an (n, 4) array of observations to n actions (0 = push left,
1 = push right); a scikit-learn style model is passed as `model.predict`. Each decision is held
for `steps_per_decision` frames, as in the 2023 study (2). Episodes start from Gymnasium's
vectorised CartPole reset with the given seed, so the same seed gives the same episodes. One
episode can also be played frame by frame from a given state (`play_episode_from`), the reference.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from eep_utils.cartpole.body import Rollouts, held_cartpole, play_episode_now, play_rollouts
from eep_utils.cartpole.episodes import FRAME_COLUMNS, EpisodeSet, empty_decisions, frame_rows
from eep_utils.stats import Estimate, mean_ci

Policy = Callable[[np.ndarray], np.ndarray]


def play_episodes(
    policy: Policy,
    n_episodes: int,
    seed: int,
    steps_per_decision: int = 1,
    batch_size: int = 10_000,
    record: bool = False,
) -> Rollouts:
    """Play `n_episodes` to the end (termination or 500 frames) in batches of vectorised envs, batch b
    from seed + b; with `record`, every decision too (the `Rollouts`' rows)."""
    def act(episodes, observations):
        return policy(observations)

    return Rollouts.concatenate([
        play_rollouts(act, min(batch_size, n_episodes - start), seed + batch, steps_per_decision, record)
        for batch, start in enumerate(range(0, n_episodes, batch_size))])


def play_episode_from(policy: Policy, initial_state, steps_per_decision: int = 1,
                      teacher: str = "a policy") -> EpisodeSet:
    """One episode of a policy in Gymnasium's single CartPole from a given state, every frame recorded.

    The reference the vectorised play is tested and benchmarked against, and the episode an
    animation shows (`behaviour.episode_animation`)."""
    env = held_cartpole(steps_per_decision)
    try:
        played = play_episode_now(env, one_at_a_time(policy), options={"state": initial_state})
    finally:
        env.close()
    return EpisodeSet(teacher, False, pd.DataFrame(frame_rows(0, played), columns=FRAME_COLUMNS), empty_decisions())


def one_at_a_time(policy: Policy) -> Callable[[np.ndarray], int]:
    """A batch policy as a choice for a single observation (for `body.play_episode`)."""
    return lambda observation: int(np.asarray(policy(np.asarray(observation)[None, :])).reshape(-1)[0])


class RandomPolicy:
    """Uniformly random pushes from a seeded generator (the 2023 random walk when held 2 frames)."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        return self.rng.integers(0, 2, len(observations))


# The book's one random-walk baseline: chapter 01 plays it, later chapters read it, so every chapter
# compares against the same episodes rather than a re-simulation with its own seed.
RANDOM_WALK_FILE = "random_walk.parquet"


@dataclass(frozen=True)
class RandomWalkBaseline:
    """Per-episode returns of the shared random walk and how they were played."""

    returns: np.ndarray
    policy_seed: int
    episode_seed: int
    steps_per_decision: int

    def summary(self) -> Estimate:
        return mean_ci(self.returns)


def save_random_walk(artifacts_dir: str | Path, baseline: RandomWalkBaseline) -> Path:
    """One row per episode; the seeds and the hold go in every row so that the file says how it was made."""
    path = Path(artifacts_dir) / RANDOM_WALK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"episode": np.arange(len(baseline.returns)), "return": baseline.returns,
                  "policy_seed": baseline.policy_seed, "episode_seed": baseline.episode_seed,
                  "steps_per_decision": baseline.steps_per_decision}).to_parquet(path, index=False)
    return path


def load_random_walk(artifacts_dir: str | Path, steps_per_decision: int) -> RandomWalkBaseline:
    """The random walk chapter 01 saved; refuses one played with another decision hold, since its
    returns would not be comparable with the reader's."""
    path = Path(artifacts_dir) / RANDOM_WALK_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: it is written by chapter 01; run the book build "
                                "(python -m eep_utils.build), which runs the chapters in order")
    table = pd.read_parquet(path)
    held = int(table["steps_per_decision"].iloc[0])
    if held != steps_per_decision:
        raise ValueError(f"{path} holds a random walk with one decision every {held} frames, "
                         f"not {steps_per_decision}: rerun chapter 01")
    return RandomWalkBaseline(table["return"].to_numpy(), int(table["policy_seed"].iloc[0]),
                              int(table["episode_seed"].iloc[0]), held)


def compared(a: Estimate, b: Estimate) -> int:
    """1 if `a`'s 95% CI lies wholly above `b`'s, -1 if wholly below, 0 if they overlap (undecided)."""
    return 1 if a.low > b.high else -1 if a.high < b.low else 0
