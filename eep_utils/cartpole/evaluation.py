"""Closed-loop evaluation on CartPole-v1: many episodes at once, one batched policy call per decision.

A policy is any callable mapping an (n, 4) array of observations to n actions (0 = push left,
1 = push right); a scikit-learn style model is passed as `model.predict`. Each decision is held
for `steps_per_decision` frames, as in the 2023 study (2). Episodes start from Gymnasium's
vectorised CartPole reset with the given seed, so the same seed gives the same episodes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv, CartPoleVectorEnv

from eep_utils.stats import Estimate, mean_ci

Policy = Callable[[np.ndarray], np.ndarray]
MAX_EPISODE_STEPS = 500


@dataclass
class Rollouts:
    """Returns of a set of episodes and, when recorded, every decision taken in them."""

    returns: np.ndarray
    observations: np.ndarray = field(default_factory=lambda: np.empty((0, 4), np.float32))
    actions: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    episode: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    initial_states: np.ndarray = field(default_factory=lambda: np.empty((0, 4)))

    def summary(self) -> Estimate:
        return mean_ci(self.returns)


def play_episodes(
    policy: Policy,
    n_episodes: int,
    seed: int,
    steps_per_decision: int = 1,
    batch_size: int = 10_000,
    record: bool = False,
) -> Rollouts:
    """Play `n_episodes` to the end (termination or 500 frames) in batches of vectorised envs."""
    parts = []
    for batch, start in enumerate(range(0, n_episodes, batch_size)):
        size = min(batch_size, n_episodes - start)
        parts.append(_play_batch(policy, size, seed + batch, steps_per_decision, record, offset=start))
    return Rollouts(*(np.concatenate(arrays) for arrays in zip(*(
        (p.returns, p.observations, p.actions, p.episode, p.initial_states) for p in parts))))


def _play_batch(policy, n, seed, steps_per_decision, record, offset) -> Rollouts:
    env = CartPoleVectorEnv(num_envs=n, max_episode_steps=MAX_EPISODE_STEPS)
    observations, _ = env.reset(seed=seed)
    initial_states = env.state.T.copy()
    alive = np.ones(n, dtype=bool)
    returns = np.zeros(n, dtype=np.int64)
    actions = np.zeros(n, dtype=np.int64)
    seen_obs, seen_actions, seen_episode = [], [], []
    for step in range(MAX_EPISODE_STEPS):
        if step % steps_per_decision == 0:
            deciding = np.flatnonzero(alive)
            chosen = np.asarray(policy(observations[deciding])).astype(np.int64).reshape(-1)
            actions[deciding] = chosen
            if record:
                seen_obs.append(observations[deciding])
                seen_actions.append(chosen)
                seen_episode.append(deciding + offset)
        observations, _, terminated, truncated, _ = env.step(actions)
        returns += alive
        alive &= ~(terminated | truncated)
        if not alive.any():
            break
    env.close()
    if not record:
        return Rollouts(returns, initial_states=initial_states)
    return Rollouts(returns, np.concatenate(seen_obs), np.concatenate(seen_actions),
                    np.concatenate(seen_episode), initial_states)


def frames_from(policy: Policy, initial_state, steps_per_decision: int = 1):
    """One episode frame by frame in Gymnasium's single CartPole, from a given state: yields
    (t, observation seen, action, decided at this frame, reward, terminated) for every frame."""
    env = CartPoleEnv()
    env.reset(seed=0)
    env.state = np.asarray(initial_state, dtype=np.float64)
    observation, action = np.array(env.state, dtype=np.float32), 0
    try:
        for t in range(MAX_EPISODE_STEPS):
            decided = t % steps_per_decision == 0
            if decided:
                action = int(np.asarray(policy(observation[None, :])).reshape(-1)[0])
            following, reward, terminated, _, _ = env.step(action)
            yield t, observation, action, decided, reward, terminated
            observation = following
            if terminated:
                return
    finally:
        env.close()


def play_episode_from(policy: Policy, initial_state, steps_per_decision: int = 1) -> int:
    """The return of one episode played frame by frame from a given state.

    The reference the vectorised evaluation is tested and benchmarked against."""
    return sum(1 for _ in frames_from(policy, initial_state, steps_per_decision))


class RandomPolicy:
    """Uniformly random pushes from a seeded generator (the 2023 random walk when held 2 frames)."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        return self.rng.integers(0, 2, len(observations))
